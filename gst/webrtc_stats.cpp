#include "webrtc_stats.h"

#include <condition_variable>
#include <memory>
#include <mutex>

namespace p2pcall {

namespace {

struct Waiter {
  std::mutex lock;
  std::condition_variable cond;
  bool changed = false;
};

}  // namespace

GstStructure *
read_webrtc_stats (GstElement *webrtcbin, gint64 timeout_us)
{
  // The waiter lives as long as the promise (which webrtcbin may hold on
  // to after we gave up): freed with it.
  auto *waiter = new Waiter ();
  GstPromise *promise = gst_promise_new_with_change_func (
      +[] (GstPromise *, gpointer data) {
        auto w = static_cast<Waiter *> (data);
        std::lock_guard<std::mutex> guard (w->lock);
        w->changed = true;
        w->cond.notify_all ();
      }, waiter, +[] (gpointer data) {
        delete static_cast<Waiter *> (data);
      });
  g_signal_emit_by_name (webrtcbin, "get-stats", nullptr, promise);
  bool replied;
  {
    std::unique_lock<std::mutex> guard (waiter->lock);
    replied = waiter->cond.wait_for (guard,
        std::chrono::microseconds (timeout_us),
        [waiter] { return waiter->changed; });
  }
  GstStructure *reply = nullptr;
  if (replied && gst_promise_wait (promise) == GST_PROMISE_RESULT_REPLIED) {
    const GstStructure *s = gst_promise_get_reply (promise);
    reply = s ? gst_structure_copy (s) : nullptr;
  } else {
    // A reply that comes later is dropped; and the promise, no longer
    // pending, may be freed unreplied without a critical.
    gst_promise_interrupt (promise);
  }
  gst_promise_unref (promise);
  return reply;
}

void
for_each_webrtc_stats (const GstStructure *reply,
    const std::function<void (GstWebRTCStatsType, const GstStructure *)> &fn)
{
  for (int i = 0; reply && i < gst_structure_n_fields (reply); i++) {
    const GValue *v = gst_structure_get_value (reply,
        gst_structure_nth_field_name (reply, i));
    if (!GST_VALUE_HOLDS_STRUCTURE (v))
      continue;
    const GstStructure *st = gst_value_get_structure (v);
    GstWebRTCStatsType type;
    if (gst_structure_get (st, "type", GST_TYPE_WEBRTC_STATS_TYPE, &type,
            nullptr))
      fn (type, st);
  }
}

}  // namespace p2pcall
