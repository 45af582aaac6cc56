# training_curves.gp - test accuracy against training iteration (mean over
# seeds, from each run's metrics.jsonl) for one target and optimizer, one
# panel per level shown in the transfer matrix: the native ticket black,
# transferred tickets in their source's colour, controls dashed, the dense
# network dotted grey.
#
# Data, one block per line: iteration, mean test accuracy (%), runs averaged.
load plots_dir . '/common.gp'
do for [fmt in formats] {
    eval terminal(fmt)
    set output out . '.' . fmt
    set multiplot layout n_rows, n_cols title figure_title
    do for [p = 1:n_panels] {
        set title panel_title[p]
        set xlabel "iteration"
        if ((p - 1) % n_cols == 0) { set ylabel "test accuracy (%)" } else { unset ylabel }
        set grid xtics ytics lc rgb "#dddddd"
        set key bottom right box opaque
        plot for [b = panel_first[p]:panel_last[p]] datafile index (b - 1) using 1:2 with lines \
                 lc rgb block_color[b] dt block_dash[b] lw block_width[b] title block_title[b]
    }
    unset multiplot
    unset output
}
