#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# docs/architecture.md keeps a row for every C source of pkg/, ipam/ and
# plugins/ (by its path relative to the table's directory, or its
# directory for plugins whose files share one row), and no source includes
# another .c file.  Prints what is missing; exit 1 if anything is.
set -eu
cd "$(dirname "$0")/.."
doc=docs/architecture.md
bad=0
for f in $(git ls-files 'pkg/*.c' 'pkg/**/*.c' 'ipam/*.c' 'ipam/**/*.c' 'plugins/*/*.c' 2>/dev/null ||
	find pkg ipam plugins -name '*.c'); do
	rel=${f#*/}                          # pkg/static/mnl.c -> static/mnl.c
	dir=${rel%/*}/                       # plugins/macvlan/macvlan.c -> macvlan/
	base=${f##*/}
	if grep -q -- "\`$rel\`" "$doc" || grep -q -- "\`$dir\`" "$doc" || grep -q -- "\`$base\`" "$doc"; then
		continue
	fi
	echo "$doc: no row for $f"
	bad=1
done
if grep -rn --include='*.c' '^#include "[^"]*\.c"' pkg ipam plugins test/fuzz; then
	echo "a source includes a .c file (link its object instead)"
	bad=1
fi
exit $bad
