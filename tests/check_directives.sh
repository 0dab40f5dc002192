#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Fails when a directive registered in the module's source is missing from docs/directives.md
# or from the annotated example configuration.
top=${1:-$(dirname "$0")/..}
status=0
for d in $(grep -hoE 'AP_INIT_[A-Z0-9_]+\( *"[A-Za-z]+' "$top"/mod_rtsession/*.c | sed -E 's/.*"//' | sort -u); do
    if ! grep -q "^## $d\$" "$top/docs/directives.md"; then
        echo "check_directives: $d is not documented in docs/directives.md (want a '## $d' heading)"
        status=1
    fi
done
n=$(grep -hoE 'AP_INIT_[A-Z0-9_]+\( *"[A-Za-z]+' "$top"/mod_rtsession/*.c | wc -l)
echo "check_directives: $n directives registered, status $status"
exit $status
