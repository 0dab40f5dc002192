#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The Apache glue is a tree (docs/design.md, "Glue layers"). Fails when
#  - a glue file is missing from the layer table in docs/design.md;
#  - a glue file includes the header of a glue file in its own or a higher layer, or calls a
#    function such a file defines (a local prototype does not get around it);
#  - the glue's include graph has a cycle (tsort);
#  - a glue header declares a function that its own .c file does not define;
#  - a glue function is named like the core's (rts_...) or a non-static glue function does not
#    carry the glue prefix (mrts_).
# Usage: check_glue_layers.sh [top]; GLUE_DIR and GLUE_LAYERS override where the files and
# the table are (to check a copy of the tree).
top=${1:-$(dirname "$0")/..}
dir=${GLUE_DIR:-$top/mod_rtsession}
table=${GLUE_LAYERS:-$top/docs/design.md}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/glue_layers.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
status=0
fail() {
    echo "check_glue_layers: $*"
    status=1
}

# The table: rows "| <layer> | `mod_rtsession_<name>` ... |" between the two markers.
sed -n '/<!-- glue-layers begin -->/,/<!-- glue-layers end -->/p' "$table" \
    | sed -n -E 's/^\| *([0-9]+) *\| *`(mod_rtsession[a-z_]*)(\.[ch])?`.*/\2 \1/p' > "$tmp/layers"
if [ ! -s "$tmp/layers" ]; then
    echo "check_glue_layers: no layer table in $table"
    exit 1
fi
layer_of() {
    awk -v m="$1" '$1 == m { print $2; exit }' "$tmp/layers"
}
module_of() {                  # mod_rtsession_foo.c, mod_rtsession_foo.h -> mod_rtsession_foo
    basename "$1" | sed -E 's/\.[ch]$//'
}
# A file without its comments and string literals (neither declares, includes nor calls).
strip() {
    awk '
    {
        line = $0; out = ""
        while (length(line) > 0) {
            if (inc) {
                i = index(line, "*/")
                if (!i) { line = ""; break }
                line = substr(line, i + 2); inc = 0; continue
            }
            c = substr(line, 1, 1); two = substr(line, 1, 2)
            if (two == "/*") { inc = 1; line = substr(line, 3); continue }
            if (two == "//") { break }
            if (c == "\"") {
                j = 2
                while (j <= length(line)) {
                    d = substr(line, j, 1)
                    if (d == "\\") { j += 2; continue }
                    if (d == "\"") break
                    j++
                }
                out = out "\"\""; line = substr(line, j + 1); continue
            }
            out = out c; line = substr(line, 2)
        }
        print out
    }' "$1"
}
# Names of the functions a .c file defines (a definition starts in column 0; static ones are
# listed as "static NAME"). Prototypes end in ';' and are skipped.
definitions() {
    strip "$1" | awk '
    /^[A-Za-z_]/ && !/^(typedef|extern|struct [a-z_]+ *\{|enum|union)/ && /\(/ {
        head = $0
        while (head !~ /\)/ && (getline more) > 0) { head = head " " more }
        if (head ~ /; *$/ || head ~ /=/) next
        pre = head; sub(/\(.*/, "", pre)
        n = split(pre, w, /[ *]+/); name = w[n]
        if (name !~ /^[A-Za-z_][A-Za-z0-9_]*$/ || name ~ /^[A-Z0-9_]+$/) next
        print (head ~ /^static/ ? "static " : "") name
    }'
}
# Names of the functions a header declares: an identifier before "(" outside macros and
# function-pointer members.
declarations() {
    strip "$1" | grep -v '^[[:space:]]*#' | tr '\n' ' ' | tr ';' '\n' \
        | grep -v '(\*' | grep -oE '[A-Za-z_][A-Za-z0-9_]*[[:space:]]*\(' \
        | sed -E 's/[[:space:]]*\($//' | grep -vE '^(sizeof|__attribute__|[A-Z0-9_]+)$' | sort -u
}

files=$(ls "$dir"/mod_rtsession*.c "$dir"/mod_rtsession*.h 2>/dev/null)
[ -n "$files" ] || { echo "check_glue_layers: no glue files in $dir"; exit 1; }
: > "$tmp/edges"
: > "$tmp/defs"
for f in $files; do
    m=$(module_of "$f")
    [ -n "$(layer_of "$m")" ] || fail "$(basename "$f") is not in the layer table of $table"
    case $f in
    *.c) definitions "$f" | sed "s/^/$m /" >> "$tmp/defs" ;;
    esac
done

for f in $files; do
    m=$(module_of "$f"); lf=$(layer_of "$m")
    [ -n "$lf" ] || continue
    for inc in $(sed -n -E 's/^[[:space:]]*#[[:space:]]*include[[:space:]]+"(mod_rtsession[a-z_]*\.h)".*/\1/p' "$f"); do
        im=$(module_of "$inc"); li=$(layer_of "$im")
        [ "$im" = "$m" ] && continue
        echo "$m $im" >> "$tmp/edges"
        if [ -z "$li" ]; then
            fail "$(basename "$f") includes $inc, which is not in the layer table"
        elif [ "$li" -ge "$lf" ]; then
            fail "$(basename "$f") (layer $lf) includes $inc (layer $li): only lower layers"
        fi
    done
done

# Calls: a function defined in another glue file, used in a file of the same or a lower layer.
for f in $files; do
    case $f in *.c) ;; *) continue ;; esac
    m=$(module_of "$f"); lf=$(layer_of "$m")
    [ -n "$lf" ] || continue
    strip "$f" > "$tmp/body"
    grep -v ' static ' "$tmp/defs" | grep -v "^static " | while read -r dm fn; do
        [ "$dm" = "$m" ] && continue
        ld=$(layer_of "$dm")
        if [ -n "$ld" ] && [ "$ld" -ge "$lf" ] && grep -qw "$fn" "$tmp/body"; then
            echo "check_glue_layers: $(basename "$f") (layer $lf) uses $fn of $dm.c (layer $ld): only lower layers"
            echo x >> "$tmp/callfail"
        fi
    done
done
[ -s "$tmp/callfail" ] && status=1

# Cycles in the include graph (files of one module are one node).
if [ -s "$tmp/edges" ] && ! tsort "$tmp/edges" > /dev/null 2> "$tmp/tsort"; then
    fail "the glue's include graph has a cycle: $(tr '\n' ' ' < "$tmp/tsort")"
fi

# Each header declares only functions its own .c defines (the module record, declared in
# mod_rtsession_private.h, is a variable: httpd's convention).
for h in $(ls "$dir"/mod_rtsession*.h); do
    m=$(module_of "$h")
    for fn in $(declarations "$h"); do
        if ! awk -v m="$m" -v fn="$fn" '$1 == m && $2 == fn { found = 1 } END { exit !found }' "$tmp/defs"; then
            owner=$(awk -v fn="$fn" '$2 == fn && $1 != "static" { print $1 ".c"; exit }' "$tmp/defs")
            fail "$(basename "$h") declares $fn, which $m.c does not define${owner:+ (it is in $owner)}"
        fi
    done
done

# Prefixes: core functions are rts_*, glue functions mrts_* (static ones may be unprefixed).
while read -r a b c; do
    if [ "$b" = static ]; then fn=$c; kind=static; else fn=$b; kind=; fi
    case $fn in
    rts_*) fail "$a.c defines $fn: glue functions are named mrts_*, rts_* is the core's" ;;
    mrts_*) ;;
    *) [ -z "$kind" ] && fail "$a.c defines non-static $fn without the glue prefix mrts_" ;;
    esac
done < "$tmp/defs"

n=$(echo "$files" | wc -l)
e=$(sort -u "$tmp/edges" | wc -l)
echo "check_glue_layers: $n glue files, $e include edges between them, status $status"
exit $status
