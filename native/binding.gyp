# The native kernels are built twice from the same sources: once for the
# baseline x86-64 (SSE2) and once with AVX2+FMA. The addon picks one at load
# time from the CPU's feature bits, so a build never executes an instruction
# the CPU lacks. Each arch build lives in its own C++ namespace so the linker
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
      "target_name": "baichuan2_native",
      "dependencies": ["kernels_generic", "kernels_avx2"],
      "sources": ["src/addon.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "libraries": ["-fopenmp"],
      "ldflags": ["-fopenmp"]
    }
  ]
}
