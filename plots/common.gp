# common.gp - what every figure shares: the two output formats, the size of a
# panel and the fonts. Each figure script loads it first; the variables it
# reads (out, n_cols, n_rows, ...) come from the NAME.vars.gp file that
# plots/figures.c writes and gnuplot runs before the script.
set encoding utf8
if (!exists("panel_w")) panel_w = 560  # a figure may ask for a wider panel first
panel_h = 420
formats = "png svg"
size_of_figure = sprintf("size %d,%d", panel_w * n_cols, panel_h * n_rows + 40)
# `eval terminal(fmt)`: PNG through cairo, SVG with a white background.
terminal(fmt) = fmt eq "png" \
    ? "set terminal pngcairo " . size_of_figure . " noenhanced font 'sans,10'" \
    : "set terminal svg " . size_of_figure . " noenhanced font 'sans,10' dynamic background '#ffffff'"
