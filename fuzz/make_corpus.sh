#!/usr/bin/env bash
# Makes the seed corpora in fuzz/corpus/ from the tests' inputs: run once by
# hand when the tests gain new kinds of input; the output is checked in.
#   fuzz/make_corpus.sh BUILD_DIR     (a CROSSFARM_FUZZ build holding make_seeds)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:?usage: fuzz/make_corpus.sh BUILD_DIR}
out=fuzz/corpus
rm -rf "$out"
mkdir -p "$out"/{project_fuzzer,option_expr_fuzzer,variables_fuzzer,archive_fuzzer,elf_compare_fuzzer}

# Projects: each test project as one input, "#### path" before each file.
for p in tests/data/projects/*/; do
  name=$(basename "$p")
  {
    cat "$p/project.conf"
    (cd "$p" && find . -type f ! -name project.conf ! -size +4k | sort) | while read -r f; do
      printf '\n#### %s\n' "${f#./}"
      cat "$p/$f"
    done
  } >"$out/project_fuzzer/$name"
done

# Findings kept as seeds (each also a unit test): a chain of 150 includes,
# past the include depth limit (HostileInputTest.DeepIncludeChainsAreAnErrorWithTheirPlace).
{
  printf 'name: chain\nelement-path: elements\n(@): i0.yml\n\n#### elements/e.bst\nkind: manual\n'
  for i in $(seq 0 149); do printf '\n#### i%d.yml\n(@): i%d.yml\n' "$i" "$((i + 1))"; done
  printf '\n#### i150.yml\nvariables:\n  x: y\n'
} >"$out/project_fuzzer/include-chain"

# Option expressions: the table of tests/common/option_test.cc.
sed -n 's/^ *{"\(.*\)", "\(true\|false\|ERROR[^"]*\)"},$/\1/p' tests/common/option_test.cc |
  sed 's/\\"/"/g' | awk '{ f = sprintf("'"$out"'/option_expr_fuzzer/%02d", NR); print > f; close(f) }'

# Variables: the table of tests/common/variables_test.cc plus bst's defaults.
sed -n 's/^ *{"\([^"]*\)", "[^"]*", ".*$/\1/p' tests/common/variables_test.cc |
  awk '{ gsub(/\\n/, "\n"); f = sprintf("'"$out"'/variables_fuzzer/%02d", NR); printf "%s\n", $0 > f; close(f) }'
printf 'prefix: /usr\nbindir: "%%{prefix}/bin"\nconf-args: --prefix=%%{prefix} --bindir=%%{bindir}\nelement-name: e.bst\n' \
  >"$out/variables_fuzzer/defaults"

# Archives: small tar (plain, gz, xz, with a symlink and a hard link), zip, ar, deb.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/t/pkg/usr/bin" "$tmp/t/pkg/DEBIAN"
echo hello >"$tmp/t/pkg/usr/bin/hello"
chmod 755 "$tmp/t/pkg/usr/bin/hello"
ln -s hello "$tmp/t/pkg/usr/bin/hi"
ln "$tmp/t/pkg/usr/bin/hello" "$tmp/t/pkg/usr/bin/hello2"
printf 'Package: hello\nVersion: 1\nArchitecture: all\nMaintainer: x <x@example.org>\nDescription: h\n' \
  >"$tmp/t/pkg/DEBIAN/control"
tar -C "$tmp/t/pkg" --owner=0 --group=0 --mtime=@0 -cf "$out/archive_fuzzer/plain.tar" usr
tar -C "$tmp/t/pkg" --owner=0 --group=0 --mtime=@0 -czf "$out/archive_fuzzer/top.tar.gz" ./usr
tar -C "$tmp/t/pkg" --owner=0 --group=0 --mtime=@0 -cJf "$out/archive_fuzzer/xz.tar.xz" usr
(cd "$tmp/t/pkg" && python3 -c 'import zipfile; z = zipfile.ZipFile("../x.zip", "w"); z.write("usr/bin/hello"); z.close()')
cp "$tmp/t/x.zip" "$out/archive_fuzzer/x.zip"
dpkg-deb -Zgzip --root-owner-group -b "$tmp/t/pkg" "$out/archive_fuzzer/hello.deb" >/dev/null
(cd "$tmp/t" && echo x >a.o && ar rcD "$OLDPWD/$out/archive_fuzzer/lib.a" a.o)

# ELF: one object per arch the tests build, and the pair of a .comment change.
printf 'int f(int x) { return x * 3; }\n' >"$tmp/f.c"
gcc -O2 -c "$tmp/f.c" -o "$tmp/x86.o"
gcc -O2 -fno-ident -c "$tmp/f.c" -o "$tmp/x86-noident.o"
aarch64-linux-gnu-gcc -O2 -c "$tmp/f.c" -o "$tmp/arm.o"
cp "$tmp/x86.o" "$out/elf_compare_fuzzer/x86.o"
cp "$tmp/arm.o" "$out/elf_compare_fuzzer/arm.o"
{ cat "$tmp/x86.o"; printf '\n@@CFSPLIT@@\n'; cat "$tmp/x86-noident.o"; } >"$out/elf_compare_fuzzer/pair-ident"
ar rcD "$tmp/lib.a" "$tmp/x86.o"
cp "$tmp/lib.a" "$out/elf_compare_fuzzer/lib.a"

"$build/fuzz/make_seeds" "$out"
du -sh "$out"
