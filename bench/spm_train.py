"""spm_train (SentencePiece's trainer) with Baichuan 2's options, timed, as the
reference for `baichuan2 bench train-tokenizer`.

argv: input text file (one sentence per line), vocab size, max piece length,
character coverage, output prefix. Prints one JSON object.
"""
import json
import sys
import time

import sentencepiece as spm


def main():
    inp, vocab, maxlen, cov, prefix = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
    t = time.perf_counter()
    spm.SentencePieceTrainer.train(
        input=inp, model_prefix=prefix, model_type="bpe", vocab_size=vocab,
        byte_fallback=True, split_digits=True, add_dummy_prefix=False, remove_extra_whitespaces=False,
        normalization_rule_name="identity", allow_whitespace_only_pieces=True,
        max_sentencepiece_length=maxlen, character_coverage=cov, input_sentence_size=0,
        max_sentence_length=1 << 20, num_threads=2, minloglevel=2,
        user_defined_symbols=["\t"])
    print(json.dumps({"seconds": time.perf_counter() - t, "version": spm.__version__}))


if __name__ == "__main__":
    main()
