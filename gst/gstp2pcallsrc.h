#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_P2PCALL_SRC (gst_p2pcall_src_get_type ())
G_DECLARE_FINAL_TYPE (GstP2pcallSrc, gst_p2pcall_src, GST, P2PCALL_SRC,
    GstBin)

G_END_DECLS
