#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Fails when a source file of the project does not start with its SPDX license line: C and
# headers `/* SPDX-License-Identifier: Apache-2.0 */`, .mjs/.js `// ...`, shell, Python,
# Makefile.am, configure.ac and debian/rules `# ...`; after the shebang line when there is one.
# `check_spdx.sh --fix [TOP]` inserts the missing lines (what added them to every file).
# Generated files and dependencies (node_modules, build dirs, build-aux, m4, fuzz corpora,
# tests/gen) are not looked at. Run by make check (tests/Makefile.am).
fix=0
if [ "${1:-}" = --fix ]; then fix=1; shift; fi
top=${1:-$(dirname "$0")/..}
id="SPDX-License-Identifier: Apache-2.0"

# The project's source files, from the places where they live (a checkout or a release tree;
# a build dir elsewhere or inside the tree, e.g. distcheck's _build, is not among them).
files() {
    for f in configure.ac Makefile.am autogen.sh .ci/run debian/rules; do
        [ -f "$top/$f" ] && echo "$top/$f"
    done
    for d in mod_rtsession tests scripts; do
        [ -d "$top/$d" ] || continue
        find "$top/$d" \( -name node_modules -o -name gen -o -name corpus -o -name out \
                          -o -name __pycache__ -o -name .pytest_cache -o -name .libs \
                          -o -name .deps \) -prune \
             -o -type f \( -name '*.c' -o -name '*.h' -o -name '*.sh' -o -name '*.py' \
                          -o -name '*.mjs' -o -name '*.js' -o -name Makefile.am \) -print
    done
}

# The line a file of that name needs.
want() {
    case $1 in
        *.c|*.h) echo "/* $id */" ;;
        *.mjs|*.js) echo "// $id" ;;
        *) echo "# $id" ;;
    esac
}

status=0
n=0
for f in $(files | sort); do
    n=$((n + 1))
    line=$(want "$f")
    first=$(head -n 1 "$f")
    case $first in
        '#!'*) at=2; have=$(sed -n 2p "$f") ;;
        *) at=1; have=$first ;;
    esac
    [ "$have" = "$line" ] && continue
    if [ $fix -eq 1 ]; then
        if [ ! -s "$f" ]; then
            printf '%s\n' "$line" >"$f"          # sed inserts nothing into an empty file
        elif [ $at -eq 2 ]; then
            sed -i "1a\\$line" "$f"
        else
            sed -i "1i\\$line" "$f"
        fi
        echo "check_spdx: added to ${f#"$top"/}"
    else
        echo "check_spdx: ${f#"$top"/} does not start with '$line' (line $at); tests/check_spdx.sh --fix adds it"
        status=1
    fi
done
echo "check_spdx: $n source files, status $status"
exit $status
