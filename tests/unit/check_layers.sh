#!/usr/bin/env bash
# The 'layers' test: the dependency direction of supervisor/, checked on the
# built static libraries (docs/architecture.md) and on the sources.
#   check_layers.sh NM SRCDIR base.a core.a store.a report.a audit.a run.a cli.a
# Fails when
#   - a library's undefined symbols include one that only a library above it
#     defines (a call that reaches upward: base <- core <- store <- report <-
#     audit <- run <- cli), or audit uses report (they are siblings above
#     store: neither may call the other);
#   - a library calls an outside library its layer must not use: base is libc
#     only; core no libuv (uv_), libgit2 (git_), libxlsxwriter (lxw_,
#     workbook_, worksheet_); store no libuv or libxlsxwriter; report no libuv;
#     libcurl (curl_) and libxml2 (xml*, html*) only in audit, which uses
#     neither libuv nor libxlsxwriter;
#   - core reads the clock or writes files (it is pure: time is an argument,
#     writes belong to store);
#   - a source or header of a layer includes the header of a layer above it,
#     or one below cli names an exit code (RS_EXIT_*): below the CLI results
#     are 0, -errno or an enum (enum rs_err), and cli/exitcode.c alone maps
#     them. A macro or enum leaves no symbol, so this part greps SRCDIR.
# A static library is not linked, so -Wl,--no-undefined cannot say this; nm
# can. Every message names the library (or file), the symbol and the rule.
set -euo pipefail
NM=$1; SRC=$2; shift 2
[ -d "$SRC/supervisor" ] || { echo "check_layers: $SRC: not the source tree (no supervisor/)" >&2; exit 2; }
names=(base core store report audit run cli)
if [ $# -ne ${#names[@]} ]; then
  echo "check_layers: expected ${#names[@]} libraries (${names[*]}), got $#" >&2
  exit 2
fi
libs=("$@")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for i in "${!names[@]}"; do
  lib=${libs[$i]}
  [ -f "$lib" ] || { echo "check_layers: $lib: no such library" >&2; exit 2; }
  # Global symbols the library defines (text, data, bss, rodata, weak, common).
  "$NM" -g --defined-only "$lib" | awk 'NF >= 3 { print $3 }' | sort -u >"$tmp/def.$i"
  # Symbols its objects need and it does not define itself.
  "$NM" -u "$lib" | awk 'NF >= 2 { print $2 }' | sort -u | comm -23 - "$tmp/def.$i" >"$tmp/undef.$i"
  if [ ! -s "$tmp/def.$i" ]; then
    echo "check_layers: ${names[$i]}: $lib defines no symbol (wrong file?)" >&2
    exit 2
  fi
done

fail=0
say() { echo "layers: $*" >&2; fail=1; }

# 1. Nothing reaches upward.
for i in "${!names[@]}"; do
  for ((j = i + 1; j < ${#names[@]}; j++)); do
    while read -r sym; do
      [ -n "$sym" ] && say "${names[$i]} (${libs[$i]##*/}) uses $sym, which only ${names[$j]} defines: move the code down or the call up"
    done < <(comm -12 "$tmp/undef.$i" "$tmp/def.$j")
  done
done

# 1b. audit and report are siblings: audit must not use report either.
while read -r sym; do
  [ -n "$sym" ] && say "audit (${libs[4]##*/}) uses $sym, which report defines: audit and report are siblings above store"
done < <(comm -12 "$tmp/undef.4" "$tmp/def.3")

# 2. Outside libraries by layer (an extended regex on the symbol name).
net='curl_|xml|html'
declare -A forbidden=(
  [base]="^(uv_|git_|lxw_|workbook_|worksheet_|json_|toml|$net)"
  [core]="^(uv_|git_|lxw_|workbook_|worksheet_|$net)"
  [store]="^(uv_|lxw_|workbook_|worksheet_|$net)"
  [report]="^(uv_|$net)"
  [audit]='^(uv_|lxw_|workbook_|worksheet_)'
  [run]="^($net)"
  [cli]="^($net)"
)
declare -A why=(
  [base]='base is libc only'
  [core]='core must not use libuv, libgit2, libxlsxwriter, libcurl or libxml2'
  [store]='store must not use libuv, libxlsxwriter, libcurl or libxml2'
  [report]='report must not use libuv, libcurl or libxml2'
  [audit]='audit must not use libuv or libxlsxwriter'
  [run]='only audit uses libcurl and libxml2'
  [cli]='only audit uses libcurl and libxml2'
)
# 3. core is pure: no clock, no file writes.
impure='^(rs_now_ms|rs_mono_ms|time|clock_gettime|gettimeofday|rs_file_write_atomic|rs_fsync_parent_dir|rs_mkdir_p|rename|renameat|unlink|fsync|mkdir|ftruncate)$'

for i in "${!names[@]}"; do
  n=${names[$i]}
  if [ -n "${forbidden[$n]:-}" ]; then
    while read -r sym; do
      [ -n "$sym" ] && say "$n (${libs[$i]##*/}) uses $sym: ${why[$n]}"
    done < <(grep -E "${forbidden[$n]}" "$tmp/undef.$i" || true)
  fi
  if [ "$n" = core ]; then
    while read -r sym; do
      [ -n "$sym" ] && say "core (${libs[$i]##*/}) uses $sym: core is pure (no clock, no file writes; take time as an argument, write in store)"
    done < <(grep -E "$impure" "$tmp/undef.$i" || true)
  fi
done

# 4. The sources: no include reaching upward, no exit code below cli.
nsrc=0
for i in "${!names[@]}"; do
  n=${names[$i]}
  for f in "$SRC/supervisor/$n"/*.[ch] "$SRC/supervisor/$n"/*.cpp "$SRC/include/ralphsup/$n"/*.h; do
    [ -f "$f" ] || continue
    nsrc=$((nsrc + 1))
    rel=${f#"$SRC"/}
    for ((j = i + 1; j < ${#names[@]}; j++)); do
      while IFS=: read -r ln _; do
        [ -n "$ln" ] && say "$n ($rel:$ln) includes a header of ${names[$j]}: a layer includes only its own headers and those below"
      done < <(grep -n "^[[:space:]]*#[[:space:]]*include[[:space:]]*\"ralphsup/${names[$j]}/" "$f" || true)
    done
    if [ "$n" != cli ]; then
      while IFS=: read -r ln _; do
        [ -n "$ln" ] && say "$n ($rel:$ln) names an exit code (RS_EXIT_): below cli return 0, -errno or an enum rs_err; cli/exitcode.c maps it"
      done < <(grep -n 'RS_EXIT_' "$f" || true)
    fi
  done
done
[ "$nsrc" -gt 0 ] || { echo "check_layers: $SRC: no sources found" >&2; exit 2; }

if [ "$fail" = 0 ]; then
  for i in "${!names[@]}"; do
    echo "ok ${names[$i]}: $(wc -l <"$tmp/def.$i") symbols defined, $(wc -l <"$tmp/undef.$i") undefined, none above its layer"
  done
  echo "ok sources: $nsrc files, no include above their layer, no RS_EXIT_ below cli"
fi
exit "$fail"
