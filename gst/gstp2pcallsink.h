#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_P2PCALL_SINK (gst_p2pcall_sink_get_type ())
G_DECLARE_FINAL_TYPE (GstP2pcallSink, gst_p2pcall_sink, GST, P2PCALL_SINK,
    GstBin)

#define GST_TYPE_P2PCALL_VIDEO_CODEC (gst_p2pcall_video_codec_get_type ())
GType gst_p2pcall_video_codec_get_type (void);

G_END_DECLS
