#!/bin/sh
# The installed library as users meet it: `cmake --install` into a fresh prefix, then a C
# program built against it with find_package(attnc) and with pkg-config, run; and libattnc.so
# exports the C ABI only.
#   usage: check_install.sh BUILD_DIR SOURCE_DIR
set -eu
build=$(cd "$1" && pwd) source=$(cd "$2" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" >/dev/null
lib=$(ls "$prefix"/lib*/libattnc.so)
leaked=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVWi]$/ && $3 !~ /^attnc_/ {print $3}')
if [ -n "$leaked" ]; then
  echo "libattnc.so exports symbols outside the C ABI:"; echo "$leaked" | head -20; exit 1
fi
echo "libattnc.so exports $(nm -D --defined-only "$lib" | grep -c ' T attnc_') C ABI functions and nothing else"
cmake -S "$source/tests/consumer" -B "$tmp/cmake-build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$tmp/cmake-build" >/dev/null
echo "find_package: $("$tmp/cmake-build/consumer")"
PKG_CONFIG_PATH=$(dirname "$lib")/pkgconfig
export PKG_CONFIG_PATH
cc "$source/tests/consumer/main.c" $(pkg-config --cflags --libs attnc) -o "$tmp/pc-consumer"
echo "pkg-config: $(LD_LIBRARY_PATH=$(dirname "$lib") "$tmp/pc-consumer")"
