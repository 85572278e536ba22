// Reading webrtcbin's statistics, for the elements' stats property and the
// adaptive mode's rate controller.
#pragma once

#include <gst/gst.h>
#include <gst/webrtc/webrtc.h>

#include <functional>

namespace p2pcall {

// Emits get-stats on @webrtcbin and returns the reply (free it with
// gst_structure_free), or nullptr when none comes within @timeout_us: a
// webrtcbin that stops (1.22) drops its queued requests unreplied, and
// gst_promise_wait() would then wait for ever.
GstStructure *read_webrtc_stats (GstElement * webrtcbin, gint64 timeout_us);

// Calls @fn with the type and fields of each statistics entry of @reply.
void for_each_webrtc_stats (const GstStructure * reply,
    const std::function<void (GstWebRTCStatsType, const GstStructure *)> & fn);

// The sum of the unsigned integer @property of every element made by
// @factory inside @bin, at any depth.
guint64 sum_uint_property (GstElement * bin, const char * factory,
    const char * property);

}  // namespace p2pcall
