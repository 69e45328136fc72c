#!/usr/bin/env bash
# Installs the build into a temporary prefix with `cmake --install`, then
# builds and runs a program against it twice: through pkg-config (hakmem.pc)
# and through CMake's find_package(hakmem).
set -euo pipefail
build_dir=$1
src_dir=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

cmake --install "$build_dir" --prefix "$prefix" >/dev/null
for f in include/hakmem.h lib/libhakmem.so lib/libhakmem.a lib/pkgconfig/hakmem.pc \
         lib/cmake/hakmem/hakmemConfig.cmake bin/hakstat; do
    found=$(cd "$prefix" && ls -d ${f/lib\//lib*/} 2>/dev/null | head -n 1)
    [ -n "$found" ] || { echo "install is missing $f"; exit 1; }
done
libdir=$(dirname "$(cd "$prefix" && ls -d lib*/libhakmem.so | head -n 1)")

export PKG_CONFIG_PATH=$prefix/$libdir/pkgconfig
cc "$src_dir/consumer.c" $(pkg-config --cflags --libs hakmem) -o "$work/by_pkgconfig"
LD_LIBRARY_PATH=$prefix/$libdir "$work/by_pkgconfig"

mkdir "$work/consumer"
cp "$src_dir/consumer.c" "$work/consumer/"
cp "$src_dir/CMakeLists.consumer.txt" "$work/consumer/CMakeLists.txt"
cmake -S "$work/consumer" -B "$work/consumer/build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/consumer/build" >/dev/null
LD_LIBRARY_PATH=$prefix/$libdir "$work/consumer/build/consumer"
