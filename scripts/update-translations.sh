#!/usr/bin/env bash
# Refresh the English message catalogue and compile it.
#
#   scripts/update-translations.sh
#
# 1. `makemessages` walks the repository (skipping .venv, tests, bench and var) and merges
#    every gettext / {% translate %} / {% blocktranslate %} string of src/gaodi into
#    src/gaodi/config/locale/en/LC_MESSAGES/django.po (the first LOCALE_PATHS entry, which
#    Django uses for every file outside an app-local locale/ folder).  Strings that are no
#    longer used are dropped (--no-obsolete); new ones appear with an empty msgstr, changed
#    ones are marked "#, fuzzy".
# 2. Translate the new/fuzzy entries in django.po by hand (and remove the "#, fuzzy" flag);
#    tests/apps/test_i18n.py fails while any msgstr is empty or fuzzy.
# 3. Run this script again (or just `uv run gaodi compilemessages`) to rebuild django.mo.
#    Commit both django.po and django.mo.
#
# Requires: uv, GNU gettext (xgettext, msgmerge, msgfmt).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCALE_DIR="$ROOT/src/gaodi/config/locale"
cd "$ROOT"

mkdir -p "$LOCALE_DIR/en/LC_MESSAGES"

# Folders that hold no platform strings (the patterns also stop the directory walk there).
IGNORE=(--ignore='.venv/*' --ignore='.git/*' --ignore='tests/*' --ignore='bench/*' --ignore='var/*'
        --ignore='docs/*' --ignore='scripts/*')

uv run gaodi makemessages -l en "${IGNORE[@]}" --no-obsolete

PO="$LOCALE_DIR/en/LC_MESSAGES/django.po"
test -f "$PO" || { echo "makemessages did not write $PO" >&2; exit 1; }

# Report what still needs a translator before compiling.
msgfmt --check --statistics -o /dev/null "$PO"

uv run gaodi compilemessages -l en "${IGNORE[@]}"

echo "Updated $PO and ${PO%.po}.mo" >&2
