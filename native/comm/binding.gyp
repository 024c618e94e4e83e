# The collective-communication addon: Gloo (PyTorch's CPU collective library,
# Debian libgloo-dev) behind N-API. Separate from native/ so that a machine
# without Gloo builds and runs everything else: `npm run build:comm`
# (native/comm/build.mjs) builds it only when the headers and libgloo.so exist.
{
  "targets": [
    {
      "target_name": "baichuan2_comm",
      "sources": ["src/comm.cc", "src/tcp_store.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "cflags!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++14", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-O2", "-fvisibility=hidden"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "libraries": ["-lgloo", "-lpthread"]
    }
  ]
}
