{
  "targets": [
    {
      "target_name": "xdbm_native",
      "sources": [
        "native/addon.cc",
        "native/io.cc",
        "native/buffer.cc",
        "native/device.cc",
        "native/uring.cc",
        "native/ring.cc"
      ],
      "dependencies": [
        "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"
      ],
      "defines": ["NAPI_VERSION=8", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-O2"],
      "cflags_cc!": ["-std=gnu++17", "-fno-exceptions"],
      "conditions": [
        ["OS!='linux'", { "type": "none" }]
      ]
    }
  ]
}
