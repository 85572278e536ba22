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

guint64
sum_uint_property (GstElement *bin, const char *factory, const char *property)
{
  guint64 sum = 0;
  g_autoptr (GstIterator) it = gst_bin_iterate_recurse (GST_BIN (bin));
  GValue item = G_VALUE_INIT;
  GstIteratorResult res;
  while ((res = gst_iterator_next (it, &item)) != GST_ITERATOR_DONE &&
      res != GST_ITERATOR_ERROR) {
    if (res == GST_ITERATOR_RESYNC) {
      gst_iterator_resync (it);
      sum = 0;
      continue;
    }
    GstElement *e = GST_ELEMENT (g_value_get_object (&item));
    GstElementFactory *f = gst_element_get_factory (e);
    if (f && g_str_equal (GST_OBJECT_NAME (f), factory)) {
      guint value = 0;
      g_object_get (e, property, &value, nullptr);
      sum += value;
    }
    g_value_reset (&item);
  }
  g_value_unset (&item);
  return sum;
}

}  // namespace p2pcall
