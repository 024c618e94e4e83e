# The native kernels are built several times from the same sources: the
# baseline x86-64 (SSE2), AVX2+FMA, AVX2+AVX-VNNI, AVX-512 (F/BW/VL/DQ),
# AVX-512+VNNI, AVX-512+VNNI+BF16 and AMX (tiles for bf16 and int8), plus
# amxemu: the AMX kernels with the tiles emulated in C++, a test-only build the
# dispatcher never picks (the harness runs it on CPUs without AMX). The addon picks the best one at load
# time from the CPU's feature bits and the OS-enabled register state (XCR0),
# so a build never executes an instruction the CPU lacks. Each arch build lives in its own C++ namespace so the linker
# can never merge an AVX2 function into the baseline path.
{
  "target_defaults": {
    "cflags!": ["-fno-exceptions", "-O2", "-O1", "-O0"],
    "cflags_cc!": ["-fno-exceptions", "-std=gnu++14", "-std=gnu++17", "-O2", "-O1", "-O0"],
    "cflags_cc": ["-std=c++17", "-O3", "-fopenmp", "-fno-math-errno", "-fvisibility=hidden"],
    "cflags": ["-O3", "-fopenmp"],
    "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"]
  },
  "targets": [
    {
      "target_name": "kernels_generic",
      "type": "static_library",
      "sources": ["src/arch_generic.cc"],
      "cflags_cc": ["-fPIC"]
    },
    {
      "target_name": "kernels_avx2",
      "type": "static_library",
      "sources": ["src/arch_avx2.cc"],
      "cflags_cc": ["-fPIC", "-mavx2", "-mfma", "-mf16c"]
    },
    {
      "target_name": "kernels_avx2vnni",
      "type": "static_library",
      "sources": ["src/arch_avx2vnni.cc"],
      "cflags_cc": ["-fPIC", "-mavx2", "-mfma", "-mf16c", "-mavxvnni"]
    },
    {
      "target_name": "kernels_avx512",
      "type": "static_library",
      "sources": ["src/arch_avx512.cc"],
      "cflags_cc": ["-fPIC", "-mavx2", "-mfma", "-mf16c", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mavx512cd", "-mprefer-vector-width=512", "-Wno-maybe-uninitialized"]
    },
    {
      "target_name": "kernels_avx512vnni",
      "type": "static_library",
      "sources": ["src/arch_avx512vnni.cc"],
      "cflags_cc": ["-fPIC", "-mavx2", "-mfma", "-mf16c", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mavx512cd", "-mprefer-vector-width=512", "-Wno-maybe-uninitialized", "-mavx512vnni"]
    },
    {
      "target_name": "kernels_avx512bf16",
      "type": "static_library",
      "sources": ["src/arch_avx512bf16.cc"],
      "cflags_cc": ["-fPIC", "-mavx2", "-mfma", "-mf16c", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mavx512cd", "-mprefer-vector-width=512", "-Wno-maybe-uninitialized", "-mavx512vnni", "-mavx512bf16"]
    },
    {
      "target_name": "kernels_amx",
      "type": "static_library",
      "sources": ["src/arch_amx.cc"],
      "cflags_cc": ["-fPIC", "-mavx2", "-mfma", "-mf16c", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mavx512cd", "-mprefer-vector-width=512", "-Wno-maybe-uninitialized", "-mavx512vnni", "-mavx512bf16", "-mamx-tile", "-mamx-bf16", "-mamx-int8"]
    },
    {
      "target_name": "kernels_amxemu",
      "type": "static_library",
      "sources": ["src/arch_amxemu.cc"],
      "cflags_cc": ["-fPIC", "-mavx2", "-mfma", "-mf16c", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mavx512cd", "-mprefer-vector-width=512", "-Wno-maybe-uninitialized", "-mavx512vnni", "-mavx512bf16"]
    },
    {
      "target_name": "baichuan2_native",
      "dependencies": ["kernels_generic", "kernels_avx2", "kernels_avx2vnni", "kernels_avx512", "kernels_avx512vnni", "kernels_avx512bf16", "kernels_amx", "kernels_amxemu"],
      "sources": ["src/addon.cc", "src/addon_quant.cc", "src/dispatch.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "libraries": ["-fopenmp"],
      "ldflags": ["-fopenmp"]
    }
  ]
}
