# mask_overlap.gp - Jaccard overlap |A ∩ B| / |A ∪ B| between the masks of
# tickets found on different sources (off the diagonal) or on the same source
# with different seeds (diagonal), with the overlap two independent random
# masks of the same per-layer densities would have, in brackets. One panel per
# density; the colour is the Jaccard overlap.
#
# Variables: n_x, x_label[i], n_y, y_label[i] (the sources, both axes).
# Data, one block per panel: column source, row source, jaccard, "jaccard",
# "chance" (labels).
load plots_dir . '/common.gp'
set palette defined (0 "#ffffff", 1 "#6baed6")
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
        set cbrange [0 : *]
        set cblabel "Jaccard overlap"
        b = panel_first[p]
        plot datafile index (b - 1) using 1:2:(0.5):(0.5):3 with boxxyerror fs solid 1.0 noborder fc palette notitle, \
             '' index (b - 1) using 1:2:(sprintf("%s\n(%s)", strcol(4), strcol(5))) with labels notitle
    }
    unset multiplot
    unset output
}
