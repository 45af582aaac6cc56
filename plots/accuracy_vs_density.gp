# accuracy_vs_density.gp - the paper-style plot (Frankle & Carbin 2019; Morcos
# et al. 2019): final test accuracy against the fraction of weights remaining,
# on a log axis that decreases to the right; one line per source with error
# bars over seeds (the native ticket black and thick, controls such as the
# random ticket dashed); the dense network as a dotted horizontal line.
#
# Variables (besides those plots/figures.c documents for every figure):
#   n_xtics, xtic_value[i], xtic_label[i]   tics at the levels' densities (%)
#   x_lowest                                the lowest density plotted (%)
#   has_dense, dense_mean                   the dense network's accuracy (%)
# Data, one block per line: density (%), mean accuracy (%), std (%), n.
panel_w = 860
load plots_dir . '/common.gp'
do for [fmt in formats] {
    eval terminal(fmt)
    set output out . '.' . fmt
    set multiplot layout n_rows, n_cols title figure_title
    do for [p = 1:n_panels] {
        set title panel_title[p]
        set logscale x
        set xrange [100 * 1.08 : x_lowest / 1.08]
        set xtics ()
        do for [i = 1:n_xtics] { set xtics add (xtic_label[i] xtic_value[i]) }
        set mxtics default
        set xlabel "weights remaining (%, log scale)"
        set ylabel "final test accuracy (%)"
        set grid xtics ytics lc rgb "#dddddd"
        # Outside the plot: with several sources a legend inside covers the sparse end.
        set key outside right top box samplen 3 font ',9'
        set bars small
        plot for [b = panel_first[p]:panel_last[p]] datafile index (b - 1) using 1:2:3 with yerrorlines \
                 lc rgb block_color[b] dt block_dash[b] lw block_width[b] pt 7 ps 0.6 title block_title[b], \
             for [d = 1:has_dense] dense_mean with lines lc rgb "#808080" dt 3 lw 1.5 title "dense"
    }
    unset multiplot
    unset output
}
