#!/usr/bin/env bash
# gcc_workload.sh CC [-IDIR | -DNAME]... SOURCE...
# Run by run_gcc.sh through compare_preload.sh --compare-files, in an empty
# directory: compiles each SOURCE (real C files) with -O2 -g and the -I and
# -D options given, then generates a large C file and compiles, links and
# runs it.  What it leaves behind (the objects, the generated source, the
# executable) must be byte-for-byte the same with and without hakmem, and so
# must what it prints.  The compiler's children (cc1, as, collect2, ld)
# inherit LD_PRELOAD: they run under hakmem too.
set -euo pipefail
cc=$1
shift
cppflags=()
while [ $# -gt 0 ] && [[ $1 == -[ID]* ]]; do
  cppflags+=("$1")
  shift
done

# The run directories differ; -fdebug-prefix-map keeps them out of the DWARF.
flags=(-O2 -g -Wall -Wextra -fdebug-prefix-map="$PWD=/build")

for src in "$@"; do
  obj=$(basename "$src" .c).o
  "$cc" "${flags[@]}" "${cppflags[@]}" -c "$src" -o "$obj"
  echo "compiled $(basename "$src"): $(wc -c <"$obj") bytes"
done

# The generated file: many functions with loops, switches, tables of structs
# and string literals, so that cc1 builds large trees and many passes run.
awk -v n=80 'BEGIN {
  print "#include <stdio.h>"
  print "#include <string.h>"
  print "struct entry { int key; const char *name; double weight; unsigned char bits[8]; };"
  for (i = 0; i < n; i++) {
    printf "static const struct entry table%d[] = {\n", i
    for (j = 0; j < 12; j++)
      printf "  {%d, \"name_%d_%d_%s\", %d.%d, {%d, %d, %d}},\n", i * 12 + j, i, j, substr("abcdefghijklmnopqrstuvwxyz", 1 + (i + j) % 26), j, i % 10, i % 256, j, (i * j) % 256
    print "};"
    printf "static unsigned long f%d(unsigned long x, const char *s)\n{\n", i
    print "  unsigned long h = x;"
    printf "  for (size_t k = 0; k < sizeof table%d / sizeof table%d[0]; k++) {\n", i, i
    printf "    const struct entry *e = &table%d[k];\n", i
    print "    h = h * 31 + (unsigned long)e->key + strlen(e->name) + (unsigned long)(e->weight * 10);"
    print "    for (int b = 0; b < 8; b++) h ^= (unsigned long)e->bits[b] << (b * 3);"
    print "  }"
    print "  switch (h % 7) {"
    for (c = 0; c < 7; c++)
      printf "  case %d: h += %d * (unsigned long)strlen(s) + (h >> %d); break;\n", c, i * 7 + c, c + 1
    print "  }"
    if (i > 0)
      printf "  if (x %% %d == 0) h ^= f%d(x / 2, s + 1);\n", 3 + i % 5, i - 1
    print "  return h;"
    print "}"
  }
  print "int main(void)"
  print "{"
  print "  unsigned long h = 0;"
  print "  const char *s = \"the quick brown fox jumps over the lazy dog\";"
  for (i = 0; i < n; i++)
    printf "  h = h * 1099511628211ul + f%d(%d, s + %d);\n", i, i, i % 20
  print "  printf(\"generated program: %lx\\n\", h);"
  print "  return 0;"
  print "}"
}' >generated.c
"$cc" "${flags[@]}" -c generated.c -o generated.o
"$cc" generated.o -o generated
echo "generated.c: $(wc -l <generated.c) lines, object $(wc -c <generated.o) bytes"
./generated
