// SfuRoom against a real Janus (started by tests/janus-run.py in this
// test's namespace, which has a test host for Janus's ICE): webrtcbins
// stand in for members. One publishes a VP8 test picture once; the others
// receive it through Janus over their one subscriber connection, whether
// they joined before or after it published; when it leaves, Janus
// renegotiates the others' subscriptions by itself.
#include "sfu_room.h"

#include <gst/gst.h>
#include <gst/sdp/sdp.h>
#define GST_USE_UNSTABLE_API
#include <gst/webrtc/webrtc.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>

using namespace p2pcall::server;

namespace {

constexpr guint kWaitSeconds = 30;
constexpr int kFramesWanted = 15;

// Runs @fn on the default main context (where SfuRoom lives) from any
// thread: webrtcbin calls back from its own.
void
on_main (std::function<void ()> fn)
{
  auto heap = new std::function<void ()> (std::move (fn));
  g_main_context_invoke_full (nullptr, G_PRIORITY_DEFAULT, [] (gpointer data) -> gboolean {
        (*static_cast<std::function<void ()> *> (data)) ();
        return G_SOURCE_REMOVE;
      }, heap, [] (gpointer data) {
        delete static_cast<std::function<void ()> *> (data);
      });
}

template <typename Done>
void
iterate_until (Done done, const char *what)
{
  gint64 deadline = g_get_monotonic_time () + kWaitSeconds * G_USEC_PER_SEC;
  while (!done ()) {
    if (g_get_monotonic_time () > deadline)
      g_error ("timed out waiting for %s", what);
    g_main_context_iteration (nullptr, TRUE);
  }
}

// One member's peer connection: a webrtcbin in a pipeline of its own that
// either sends a VP8 test picture or decodes what it receives.
struct Peer {
  std::string member;
  SfuRoom::Leg leg;
  SfuRoom *room = nullptr;
  GstElement *pipeline = nullptr;
  GstElement *webrtc = nullptr;
  std::atomic<int> frames {0};
  std::atomic<int> offers {0};

  Peer (const std::string & id, SfuRoom::Leg l, SfuRoom * r)
    : member (id), leg (l), room (r)
  {
    if (leg == SfuRoom::Leg::kPublisher) {
      g_autoptr (GError) error = nullptr;
      pipeline = gst_parse_launch ("videotestsrc is-live=true pattern=ball ! "
          "video/x-raw,width=320,height=240,framerate=30/1 ! "
          "vp8enc deadline=1 keyframe-max-dist=30 ! rtpvp8pay ! "
          "application/x-rtp,media=video,encoding-name=VP8,payload=96 ! "
          "webrtcbin name=webrtc bundle-policy=max-bundle", &error);
      g_assert_no_error (error);
      webrtc = gst_bin_get_by_name (GST_BIN (pipeline), "webrtc");
    } else {
      pipeline = gst_pipeline_new (nullptr);
      webrtc = gst_element_factory_make ("webrtcbin", nullptr);
      g_object_set (webrtc, "bundle-policy", GST_WEBRTC_BUNDLE_POLICY_MAX_BUNDLE, nullptr);
      gst_bin_add (GST_BIN (pipeline), GST_ELEMENT (gst_object_ref (webrtc)));
    }
    g_assert_nonnull (webrtc);
    g_signal_connect (webrtc, "on-ice-candidate", G_CALLBACK (on_candidate), this);
    if (leg == SfuRoom::Leg::kPublisher)
      g_signal_connect (webrtc, "on-negotiation-needed", G_CALLBACK (on_negotiation_needed), this);
    else
      g_signal_connect (webrtc, "pad-added", G_CALLBACK (on_pad_added), this);
    gst_element_set_state (pipeline, GST_STATE_PLAYING);
  }

  ~Peer ()
  {
    gst_element_set_state (pipeline, GST_STATE_NULL);
    gst_object_unref (webrtc);
    gst_object_unref (pipeline);
  }

  static void on_candidate (GstElement *, guint mline, char *candidate, gpointer data)
  {
    auto self = static_cast<Peer *> (data);
    std::string text = candidate;
    on_main ([self, mline, text] {
          self->room->candidate (self->member, self->leg, mline, text);
        });
  }

  // Makes our @kind ("offer" or "answer"), sets it as local description and
  // gives it to the room: the publisher leg publishes, the subscriber leg
  // answers.
  void describe (const char *kind)
  {
    GstPromise *promise = gst_promise_new_with_change_func ([] (GstPromise * p,
            gpointer data) {
          auto self = static_cast<Peer *> (data);
          GstWebRTCSessionDescription *desc = nullptr;
          gst_structure_get (gst_promise_get_reply (p),
              self->leg == SfuRoom::Leg::kPublisher ? "offer" : "answer",
              GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &desc, nullptr);
          gst_promise_unref (p);
          g_signal_emit_by_name (self->webrtc, "set-local-description", desc, nullptr);
          g_autofree char *sdp = gst_sdp_message_as_text (desc->sdp);
          gst_webrtc_session_description_free (desc);
          std::string text = sdp;
          on_main ([self, text] {
                if (self->leg == SfuRoom::Leg::kPublisher)
                  self->room->publish (self->member, text);
                else
                  self->room->answer (self->member, text);
              });
        }, this, nullptr);
    g_signal_emit_by_name (webrtc, g_str_equal (kind, "offer") ? "create-offer" :
        "create-answer", nullptr, promise);
  }

  static void on_negotiation_needed (GstElement *, gpointer data)
  {
    static_cast<Peer *> (data)->describe ("offer");
  }

  // Janus's answer (publisher leg) or offer (subscriber leg).
  void take (const char *type, const std::string & sdp)
  {
    GstSDPMessage *message = nullptr;
    gst_sdp_message_new_from_text (sdp.c_str (), &message);
    bool is_offer = g_str_equal (type, "offer");
    GstWebRTCSessionDescription *desc = gst_webrtc_session_description_new (
        is_offer ? GST_WEBRTC_SDP_TYPE_OFFER : GST_WEBRTC_SDP_TYPE_ANSWER, message);
    GstPromise *promise = nullptr;
    if (is_offer) {
      offers++;
      promise = gst_promise_new_with_change_func ([] (GstPromise * p,
              gpointer data) {
            gst_promise_unref (p);
            static_cast<Peer *> (data)->describe ("answer");
          }, this, nullptr);
    }
    g_signal_emit_by_name (webrtc, "set-remote-description", desc, promise);
    gst_webrtc_session_description_free (desc);
  }

  static void on_pad_added (GstElement *, GstPad * pad, gpointer data)
  {
    auto self = static_cast<Peer *> (data);
    if (GST_PAD_DIRECTION (pad) != GST_PAD_SRC)
      return;
    g_autoptr (GstCaps) caps = gst_pad_get_current_caps (pad);
    const char *media = caps ? gst_structure_get_string (
        gst_caps_get_structure (caps, 0), "media") : nullptr;
    const char *decode = g_strcmp0 (media, "video") == 0 ?
        "rtpvp8depay ! vp8dec ! fakesink name=frames signal-handoffs=true sync=false" :
        "fakesink sync=false";
    g_autoptr (GError) error = nullptr;
    GstElement *branch = gst_parse_bin_from_description (decode, TRUE, &error);
    g_assert_no_error (error);
    GstElement *sink = gst_bin_get_by_name (GST_BIN (branch), "frames");
    if (sink) {
      g_signal_connect (sink, "handoff", G_CALLBACK (+[] (GstElement *,
                  GstBuffer *, GstPad *, gpointer data) {
                static_cast<Peer *> (data)->frames++;
              }), self);
      gst_object_unref (sink);
    }
    gst_bin_add (GST_BIN (self->pipeline), branch);
    gst_element_sync_state_with_parent (branch);
    g_autoptr (GstPad) sinkpad = gst_element_get_static_pad (branch, "sink");
    g_assert_cmpint (gst_pad_link (pad, sinkpad), ==, GST_PAD_LINK_OK);
  }
};

struct Call {
  JanusClient janus;
  bool up = false;
  std::unique_ptr<SfuRoom> room;
  std::map<std::string, std::unique_ptr<Peer>> publishers;
  std::map<std::string, std::unique_ptr<Peer>> subscribers;
  std::vector<std::string> failures;

  Call ()
    : janus (JanusClientOptions {first_url (), g_getenv ("P2PCALL_JANUS_API_SECRET")},
        JanusEvents {[this] (bool is_up, const GError * error) {
            up = is_up;
            if (error)
              g_error ("%s", error->message);
          }, nullptr})
  {
    janus.connect ();
    iterate_until ([this] { return up; }, "the Janus session");
    SfuRoom::Events events;
    events.description = [this] (const std::string & member, SfuRoom::Leg leg,
        const char *type, const std::string & sdp) {
      auto &peers = leg == SfuRoom::Leg::kPublisher ? publishers : subscribers;
      auto it = peers.find (member);
      if (it != peers.end ())
        it->second->take (type, sdp);
    };
    events.failed = [this] (const std::string & member, SfuRoom::Leg,
        const std::string & why) {
      failures.push_back (member + ": " + why);
    };
    room = std::make_unique<SfuRoom> (janus, 1001, std::move (events));
    bool opened = false;
    room->open (20, [&opened] (const GError * error) {
          g_assert_no_error (error);
          opened = true;
        });
    iterate_until ([&] { return opened; }, "the room to be created");
  }

  static std::string first_url ()
  {
    g_auto (GStrv) urls = g_strsplit (g_getenv ("P2PCALL_JANUS_URLS"), ",", -1);
    return urls[0];
  }

  // A member that only receives (its publisher leg joins but never offers).
  Peer & viewer (const std::string & id)
  {
    room->join (id);
    subscribers[id] = std::make_unique<Peer> (id, SfuRoom::Leg::kSubscriber, room.get ());
    return *subscribers[id];
  }

  Peer & sender (const std::string & id)
  {
    room->join (id);
    publishers[id] = std::make_unique<Peer> (id, SfuRoom::Leg::kPublisher, room.get ());
    return *publishers[id];
  }
};

void
wait_frames (Peer & peer)
{
  iterate_until ([&] { return peer.frames >= kFramesWanted; },
      ("decoded frames at " + peer.member).c_str ());
}

void
test_publish_once_received_by_all ()
{
  guint ticker = g_timeout_add (100, [] (gpointer) -> gboolean { return G_SOURCE_CONTINUE; }, nullptr);
  Call call;
  Peer & bob = call.viewer ("bob");
  Peer & alice = call.sender ("alice");
  (void) alice;
  wait_frames (bob);
  g_assert_cmpuint (call.room->publishing ().size (), ==, 1);
  g_assert_cmpstr (call.room->publishing ()[0].c_str (), ==, "alice");

  // A viewer joining once alice publishes gets her in its first offer.
  Peer & carol = call.viewer ("carol");
  wait_frames (carol);
  g_assert_cmpint (carol.offers, ==, 1);

  // Alice leaves: Janus offers bob and carol subscriptions without her.
  int bob_offers = bob.offers;
  call.room->leave ("alice");
  call.publishers.erase ("alice");
  iterate_until ([&] { return bob.offers > bob_offers; }, "bob's renegotiation");
  g_assert_true (call.room->publishing ().empty ());
  for (auto &f : call.failures)
    g_printerr ("failure: %s\n", f.c_str ());
  g_assert_true (call.failures.empty ());
  call.subscribers.clear ();
  g_source_remove (ticker);
}

}  // namespace

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, nullptr);
  g_test_add_func ("/sfu-room/publish-once-received-by-all", test_publish_once_received_by_all);
  return g_test_run ();
}
