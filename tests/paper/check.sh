#!/usr/bin/env bash
# The paper check: compiles tests/paper/article.tex (a two-column article) around the tables and figures of one
# simgap output folder, as a paper author would, and renders its pages to PNG.
#   tests/paper/check.sh OUT
# Writes OUT/paper/ (article.pdf, article.log, page-N.png). Fails on any LaTeX error (a missing table or figure is
# one), any overfull box ("Overfull \hbox", "Overfull \vbox") and any float too large for its page.
# Needs pdflatex with booktabs and graphicx, and pdftoppm (Debian: texlive-latex-base, texlive-latex-recommended,
# poppler-utils).
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 OUT (a simgap output folder)" >&2; exit 2; }
out=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
for tool in pdflatex pdftoppm; do
  command -v "$tool" >/dev/null || { echo "$tool is missing (Debian: texlive-latex-base, poppler-utils)" >&2; exit 2; }
done
shopt -s nullglob
tables=("$out"/tables/*.tex)
figures=("$out"/figures/*.pdf)
[ ${#tables[@]} -gt 0 ] || { echo "$out/tables has no .tex table" >&2; exit 1; }
[ ${#figures[@]} -gt 0 ] || { echo "$out/figures has no .pdf figure" >&2; exit 1; }

build="$out/paper"
rm -rf "$build"
mkdir -p "$build"
cp "$here/article.tex" "$build/"
{
  for table in "${tables[@]}"; do echo "\\input{$table}"; done
  for figure in "${figures[@]}"; do
    name=$(basename "$figure")
    echo "\\simgapfigure{$figure}{$name}"
  done
} > "$build/simgap-outputs.tex"

cd "$build"
for pass in 1 2; do
  if ! pdflatex -interaction=nonstopmode -halt-on-error article.tex > "pass$pass.out" 2>&1; then
    tail -40 article.log >&2
    echo "pdflatex failed (pass $pass): see $build/article.log" >&2
    exit 1
  fi
done
if grep -nE '^! |LaTeX Error|Overfull \\[hv]box|Float too large' article.log >&2; then
  echo "article.log has errors or boxes that overflow: see $build/article.log" >&2
  exit 1
fi
included=$(grep -c '^\\input\|^\\simgapfigure' simgap-outputs.tex)
pdftoppm -r 80 -png article.pdf page
pages=(page-*.png)
echo "paper check: $included tables and figures, ${#pages[@]} pages, no overfull box: $build/article.pdf"
