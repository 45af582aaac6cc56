# layer_density.gp - per-layer density profiles: the fraction of each prunable
# tensor's weights a source's ticket keeps (log scale), one line per source,
# one panel per level. Global pruning keeps more of small layers; sources
# whose lines coincide pruned their layers alike. A tensor pruned away
# entirely (0%) has no place on the log axis: report.md's table shows it.
#
# Variables: n_x, x_label[i] (the tensors, in model order).
# Data, one block per source and panel: tensor index, density (%).
load plots_dir . '/common.gp'
do for [fmt in formats] {
    eval terminal(fmt)
    set output out . '.' . fmt
    set multiplot layout n_rows, n_cols title figure_title
    do for [p = 1:n_panels] {
        set title panel_title[p]
        set xrange [-0.5 : n_x - 0.5]
        set xtics () rotate by 20 right
        do for [i = 1:n_x] { set xtics add (x_label[i] i - 1) }
        set logscale y
        set yrange [* : 100 * 1.3]
        if ((p - 1) % n_cols == 0) { set ylabel "weights remaining in the tensor (%, log scale)" } else { unset ylabel }
        set grid ytics lc rgb "#dddddd"
        set key bottom right box opaque
        plot for [b = panel_first[p]:panel_last[p]] datafile index (b - 1) using 1:2 with linespoints \
                 lc rgb block_color[b] dt block_dash[b] lw block_width[b] pt 7 ps 0.8 title block_title[b]
    }
    unset multiplot
    unset output
}
