"""SentencePiece encoding speed on the same texts as our tokenizer benchmark.

argv: tokenizer.model, a JSON file holding a list of texts. Prints one JSON
object: the median MB/s over 3 runs and the total token count.
"""
import json
import sys
import time

import sentencepiece as spm


def main():
    sp = spm.SentencePieceProcessor(model_file=sys.argv[1])
    texts = json.load(open(sys.argv[2], encoding="utf-8"))
    nbytes = sum(len(t.encode("utf-8")) for t in texts)
    runs = []
    tokens = 0
    for _ in range(3):
        t = time.perf_counter()
        tokens = sum(len(sp.encode(x)) for x in texts)
        runs.append(time.perf_counter() - t)
    runs.sort()
    print(json.dumps({"mb_per_s": nbytes / 1e6 / runs[1], "tokens": tokens, "version": spm.__version__}))


if __name__ == "__main__":
    main()
