# transfer_matrix.gp - the transfer matrix as a heatmap: rows are the sources
# a ticket was found on, columns the targets it was retrained on; each cell
# shows the final accuracy (%) and its difference to the target's own ticket
# at the same level (percentage points), which also sets the colour (blue:
# better than the native ticket, red: worse, white: equal or the diagonal).
# One panel per density.
#
# Variables: n_x, x_label[i] (targets); n_y, y_label[i] (sources); cb_max.
# Data, one block per panel: target index, source index, difference (pp),
# "accuracy", "difference" (labels).
load plots_dir . '/common.gp'
set palette defined (-1 "#d6604d", 0 "#f7f7f7", 1 "#4393c3")
do for [fmt in formats] {
    eval terminal(fmt)
    set output out . '.' . fmt
    set multiplot layout n_rows, n_cols title figure_title
    do for [p = 1:n_panels] {
        set title panel_title[p]
        set xrange [-0.5 : n_x - 0.5]
        set yrange [n_y - 0.5 : -0.5]
        set xtics () rotate by 20 right
        do for [i = 1:n_x] { set xtics add (x_label[i] i - 1) }
        set ytics ()
        do for [i = 1:n_y] { set ytics add (y_label[i] i - 1) }
        set xlabel "target"
        if ((p - 1) % n_cols == 0) { set ylabel "source" } else { unset ylabel }
        set cbrange [-cb_max : cb_max]
        set cblabel "Δ vs native ticket (pp)"
        b = panel_first[p]
        plot datafile index (b - 1) using 1:2:(0.5):(0.5):3 with boxxyerror fs solid 1.0 noborder fc palette notitle, \
             '' index (b - 1) using 1:2:(sprintf("%s\n%s", strcol(4), strcol(5))) with labels notitle
    }
    unset multiplot
    unset output
}
