// p2pcallsink and p2pcallsrc through the real p2pcall-server, in a loopback
// only network namespace (tests/netns-run.sh). Each test runs as its own
// meson test with its own registry: GST_CHECKS=<name> runs one.
#include "gst-test-support.h"

#include <algorithm>

GST_START_TEST (test_registration)
{
  for (const char *name : {"p2pcallsink", "p2pcallsrc"}) {
    GstElement *e = gst_element_factory_make (name, nullptr);
    fail_unless (e != nullptr, "%s is not registered", name);
    g_autofree char *server = nullptr, *room = nullptr, *ice = nullptr;
    g_object_get (e, "server", &server, "room", &room, "ice-addresses", &ice,
        nullptr);
    fail_unless_equals_string (server, "ws://127.0.0.1:8080/ws");
    fail_unless (room == nullptr);
    fail_unless_equals_string (ice, "");
    for (const char *prop : {"peer-name", "token", "stun-server",
            "turn-server", "stats", "ca-file", "ice-transport-policy"})
      fail_unless (g_object_class_find_property (G_OBJECT_GET_CLASS (e),
              prop) != nullptr, "%s has no %s", name, prop);
    gst_object_unref (e);
  }

  GstElement *sink = gst_element_factory_make ("p2pcallsink", nullptr);
  guint bitrate;
  gint codec;
  g_object_get (sink, "video-bitrate", &bitrate, "video-codec", &codec,
      nullptr);
  fail_unless_equals_int (bitrate, 1500);
  fail_unless_equals_int (codec, 0);
  // One encoding for everyone unless told otherwise (for now).
  GValue cc = G_VALUE_INIT;
  g_object_get_property (G_OBJECT (sink), "congestion-control", &cc);
  GEnumValue *mode = g_enum_get_value (G_ENUM_CLASS (g_type_class_peek (
              G_VALUE_TYPE (&cc))), g_value_get_enum (&cc));
  fail_unless_equals_string (mode->value_nick, "none");
  g_value_unset (&cc);
  gst_util_set_object_arg (G_OBJECT (sink), "video-codec", "h264");
  g_object_get (sink, "video-codec", &codec, nullptr);
  fail_unless_equals_int (codec, 2);
  GstPadTemplate *video = gst_element_get_pad_template (sink, "video_%u");
  GstPadTemplate *audio = gst_element_get_pad_template (sink, "audio_%u");
  fail_unless (video && audio);
  fail_unless_equals_int (GST_PAD_TEMPLATE_PRESENCE (video), GST_PAD_REQUEST);
  g_autoptr (GstCaps) vp8 = gst_caps_from_string ("video/x-vp8");
  fail_unless (gst_caps_can_intersect (GST_PAD_TEMPLATE_CAPS (video), vp8));
  g_autoptr (GstCaps) opus = gst_caps_from_string ("audio/x-opus");
  fail_unless (gst_caps_can_intersect (GST_PAD_TEMPLATE_CAPS (audio), opus));
  GstPad *pad = gst_element_request_pad_simple (sink, "video_%u");
  fail_unless_equals_string (GST_PAD_NAME (pad), "video_0");
  gst_element_release_request_pad (sink, pad);
  gst_object_unref (pad);
  gst_object_unref (sink);

  // gst-launch's automatic linking picks the pad by kind (p2pcallsrc: the
  // grid's always pads).
  for (auto [launch, pad_name] : {
          std::pair {"videotestsrc ! p2pcallsink name=s room=r", "video_0"},
          std::pair {"audiotestsrc ! p2pcallsink name=s room=r", "audio_0"},
          std::pair {"p2pcallsrc name=s room=r ! videoconvert ! fakesink",
              "video"},
          std::pair {"p2pcallsrc name=s room=r ! audioconvert ! fakesink",
              "audio"}}) {
    GstElement *p = gst_parse_launch (launch, nullptr);
    fail_unless (p != nullptr, "%s", launch);
    GstElement *s = gst_bin_get_by_name (GST_BIN (p), "s");
    GstPad *linked = gst_element_get_static_pad (s, pad_name);
    fail_unless (linked != nullptr && gst_pad_is_linked (linked), "%s",
        launch);
    gst_object_unref (linked);
    gst_object_unref (s);
    gst_object_unref (p);
  }

  GstElement *src = gst_element_factory_make ("p2pcallsrc", nullptr);
  guint latency;
  g_object_get (src, "latency", &latency, nullptr);
  fail_unless_equals_int (latency, 50);
  // The whole call on two always pads unless asked otherwise.
  gint layout = -1;
  g_object_get (src, "layout", &layout, nullptr);
  fail_unless_equals_int (layout, 0);   // grid
  g_autoptr (GstPad) grid_video = gst_element_get_static_pad (src, "video");
  g_autoptr (GstPad) grid_audio = gst_element_get_static_pad (src, "audio");
  fail_unless (grid_video != nullptr && grid_audio != nullptr);
  GstPadTemplate *out = gst_element_get_pad_template (src, "video_%s_%u");
  fail_unless (out != nullptr);
  fail_unless_equals_int (GST_PAD_TEMPLATE_PRESENCE (out), GST_PAD_SOMETIMES);
  fail_unless (gst_element_get_pad_template (src, "audio_%s_%u") != nullptr);
  gst_object_unref (src);
}
GST_END_TEST;

GST_START_TEST (test_sink_to_src)
{
  ServerProcess server;
  auto sender_ptr = std::make_unique<Pipeline> (sink_pipeline (server.url (),
          "call"));
  Pipeline &sender = *sender_ptr;
  fail_if (sender.play () == GST_STATE_CHANGE_FAILURE);
  fail_unless (wait_for ([&] { return sender.count ("p2pcall-joined") == 1; }));

  Pipeline viewer (src_pipeline (server.url (), "call"));
  Receiver receiver (viewer, "src");
  fail_if (viewer.play () == GST_STATE_CHANGE_FAILURE);
  fail_unless (wait_for ([&] { return receiver.has_media (1, 1); }),
      "no media arrived");
  for (const Received &r : receiver.snapshot ()) {
    fail_unless (g_str_has_prefix (r.pad_name.c_str (),
            r.audio ? "audio_" : "video_"), "pad %s", r.pad_name.c_str ());
    if (!r.audio) {
      fail_unless_equals_int (r.width, 320);
      fail_unless_equals_int (r.height, 240);
    }
  }
  sender.poll ();
  viewer.poll ();
  fail_unless (sender.errors.empty () && viewer.errors.empty ());
  fail_unless_equals_int (peer_count (sender.get ("sink")), 1);

  // One peer in the stats, connected.
  GstStructure *stats = nullptr;
  g_object_get (sender.get ("sink"), "stats", &stats, nullptr);
  fail_unless (stats != nullptr);
  fail_unless_equals_int (gst_structure_n_fields (stats), 1);
  const GstStructure *peer = gst_value_get_structure (
      gst_structure_get_value (stats, gst_structure_nth_field_name (stats, 0)));
  fail_unless_equals_string (gst_structure_get_string (peer, "state"),
      "connected");
  gst_structure_free (stats);

  // The sender leaves: its pads get EOS and go.
  sender_ptr.reset ();
  fail_unless (wait_for ([&] { return viewer.count ("p2pcall-peer-left"); }));
  for (const Received &r : receiver.snapshot ())
    fail_unless (r.eos, "no EOS on %s", r.pad_name.c_str ());
  GstElement *src = viewer.get ("src");
  fail_unless_equals_int (src->numsrcpads, 0);
  fail_unless_equals_int (peer_count (src), 0);
}
GST_END_TEST;

GST_START_TEST (test_three_members)
{
  ServerProcess server;
  // The first viewer is in the room first: the sink answers its offer.
  Pipeline viewer1 (src_pipeline (server.url (), "three", "src"));
  Receiver receiver1 (viewer1, "src");
  fail_if (viewer1.play () == GST_STATE_CHANGE_FAILURE);
  fail_unless (wait_for ([&] { return viewer1.count ("p2pcall-joined"); }));

  Pipeline sender (sink_pipeline (server.url (), "three"));
  fail_if (sender.play () == GST_STATE_CHANGE_FAILURE);
  fail_unless (wait_for ([&] { return sender.count ("p2pcall-joined"); }));

  auto viewer2 = std::make_unique<Pipeline> (src_pipeline (server.url (),
          "three", "src"));
  Receiver receiver2 (*viewer2, "src");
  fail_if (viewer2->play () == GST_STATE_CHANGE_FAILURE);

  fail_unless (wait_for ([&] { return receiver1.has_media (1, 1); }),
      "first viewer got nothing");
  fail_unless (wait_for ([&] { return receiver2.has_media (1, 1); }),
      "second viewer got nothing");
  fail_unless_equals_int (peer_count (sender.get ("sink")), 2);
  // The viewers send nothing to each other: no connection between them.
  fail_unless_equals_int (peer_count (viewer1.get ("src")), 1);
  fail_unless_equals_int (peer_count (viewer2->get ("src")), 1);
  // Encoded once for every viewer.
  fail_unless_equals_int (count_elements (sender.get ("sink"), "vp8enc"), 1);
  fail_unless_equals_int (count_elements (sender.get ("sink"), "opusenc"), 1);

  viewer2.reset ();
  fail_unless (wait_for ([&] { return sender.count ("p2pcall-peer-left"); }),
      "the sink did not see the viewer leave");
  fail_unless_equals_int (peer_count (sender.get ("sink")), 1);
  fail_unless (receiver1.keeps_receiving (10),
      "the first viewer stopped receiving");
  fail_unless_equals_int (viewer1.count ("p2pcall-peer-left"), 0);
}
GST_END_TEST;

// Raw video encoded in @codec arrives decoded at its size.
static void
check_video_codec (const char *codec)
{
  ServerProcess server;
  Pipeline sender ("videotestsrc is-live=true ! video/x-raw,width=320,"
      "height=240,framerate=15/1 ! p2pcallsink name=sink video-codec=" +
      std::string (codec) + " room=codec server=" + server.url ());
  fail_if (sender.play () == GST_STATE_CHANGE_FAILURE);
  fail_unless (wait_for ([&] { return sender.count ("p2pcall-joined"); }));
  Pipeline viewer (src_pipeline (server.url (), "codec"));
  Receiver receiver (viewer, "src");
  fail_if (viewer.play () == GST_STATE_CHANGE_FAILURE);
  fail_unless (wait_for ([&] { return receiver.has_media (1, 0); }),
      "no %s video arrived", codec);
  const Received r = receiver.snapshot ()[0];
  fail_unless_equals_int (r.width, 320);
  fail_unless_equals_int (r.height, 240);
  assert_no_errors ({&sender});
}

GST_START_TEST (test_h264)
{
  check_video_codec ("h264");
}
GST_END_TEST;

GST_START_TEST (test_vp9)
{
  check_video_codec ("vp9");
}
GST_END_TEST;

GST_START_TEST (test_sink_eos)
{
  // A pipeline with a p2pcallsink ends when its inputs do.
  ServerProcess server;
  Pipeline sender ("videotestsrc num-buffers=20 ! p2pcallsink name=sink "
      "room=eos server=" + server.url () + " audiotestsrc num-buffers=20 ! "
      "sink.");
  fail_if (sender.play () == GST_STATE_CHANGE_FAILURE);
  GstMessage *msg = gst_bus_timed_pop_filtered (sender.bus_, 20 * GST_SECOND,
      (GstMessageType) (GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  fail_unless (msg != nullptr, "no EOS");
  fail_unless_equals_int (GST_MESSAGE_TYPE (msg), GST_MESSAGE_EOS);
  gst_message_unref (msg);
}
GST_END_TEST;

GST_START_TEST (test_server_unreachable)
{
  // Nothing listens on port 9 in a fresh namespace.
  Pipeline sender (sink_pipeline ("ws://127.0.0.1:9/ws", "call"));
  sender.play ();
  fail_unless (wait_for ([&] { sender.poll (); return !sender.errors.empty (); }));
  fail_unless (strstr (sender.errors[0].c_str (), "ws://127.0.0.1:9/ws")
      != nullptr, "error does not name the URL: %s", sender.errors[0].c_str ());
}
GST_END_TEST;

GST_START_TEST (test_bad_room)
{
  Pipeline sender (sink_pipeline ("ws://127.0.0.1:9/ws", "bad/room"));
  fail_unless_equals_int (sender.play (), GST_STATE_CHANGE_FAILURE);
  sender.poll ();
  fail_unless (!sender.errors.empty ());
  fail_unless (strstr (sender.errors[0].c_str (), "'bad/room'") != nullptr,
      "error does not name the room: %s", sender.errors[0].c_str ());
}
GST_END_TEST;

GST_START_TEST (test_server_restart)
{
  auto server = std::make_unique<ServerProcess> ();
  guint port = server->port ();
  std::string url = server->url ();
  Pipeline sender (sink_pipeline (url, "restart"));
  fail_if (sender.play () == GST_STATE_CHANGE_FAILURE);
  fail_unless (wait_for ([&] { return sender.count ("p2pcall-joined"); }));
  Pipeline viewer (src_pipeline (url, "restart"));
  Receiver receiver (viewer, "src");
  fail_if (viewer.play () == GST_STATE_CHANGE_FAILURE);
  fail_unless (wait_for ([&] { return receiver.has_media (1, 1); }));

  // A crash: no close frames, the sockets just go.
  server->kill_hard ();
  fail_unless (wait_for ([&] {
            return sender.count ("p2pcall-signalling-lost") &&
                viewer.count ("p2pcall-signalling-lost");
          }));
  // No server at all, and the picture keeps coming.
  fail_unless (receiver.keeps_receiving (15, true),
      "no video while the server was down");
  server = std::make_unique<ServerProcess> (port);
  fail_unless (wait_for ([&] {
            return sender.count ("p2pcall-joined") == 2 &&
                viewer.count ("p2pcall-joined") == 2;
          }), "did not rejoin");

  // Media keeps flowing on the same connection: no new pads, no new peer.
  fail_unless (receiver.keeps_receiving (20));
  // Past the wait for a rejoining peer's clientId.
  g_usleep (1500 * 1000);
  fail_unless_equals_int (receiver.snapshot ().size (), 2);
  fail_unless_equals_int (peer_count (sender.get ("sink")), 1);
  fail_unless_equals_int (sender.count ("p2pcall-peer-joined"), 1);
  fail_unless_equals_int (sender.count ("p2pcall-peer-left"), 0);
  sender.poll ();
  viewer.poll ();
  fail_unless (sender.errors.empty () && viewer.errors.empty ());
}
GST_END_TEST;

// ---------------------------------------------------------------------------
// A p2pcallsink and a p2pcallsrc with the same peer-name: one member.

// gst-launch line of a two-way member sending @width x @height; what it
// receives goes to a fakesink named "view" (-v prints its caps).
static std::string
two_way_launch (const std::string &url, const char *room, const char *name,
    int width, int height)
{
  std::string common = " room=" + std::string (room) + " server=" + url;
  return member_sending (name, width, height, common) + " " +
      member_receiving (name, common) + " ! fakesink name=view";
}

// True when @output (gst-launch -v) shows raw video of @width x @height
// arriving at the fakesink named "view".
static bool
view_got (const std::string &output, int width, int height)
{
  std::string size = "width=(int)" + std::to_string (width) +
      ", height=(int)" + std::to_string (height);
  g_auto (GStrv) lines = g_strsplit (output.c_str (), "\n", -1);
  for (char **line = lines; *line; line++)
    if (strstr (*line, "GstFakeSink:view.GstPad:sink: caps = video/x-raw") &&
        strstr (*line, size.c_str ()))
      return true;
  return false;
}

// The video outputs of @receiver that have had buffers at @width x @height.
static guint
videos_at (Receiver &receiver, int width, int height, guint min_buffers = 5)
{
  guint n = 0;
  for (const Received &r : receiver.snapshot ())
    n += !r.audio && r.width == width && r.height == height &&
        r.buffers >= min_buffers;
  return n;
}

GST_START_TEST (test_shared_two_processes)
{
  ServerProcess server;
  // Bob: another process, one gst-launch line, 352x288.
  MemberProcess bob ("-v " + two_way_launch (server.url (), "both", "bob",
          352, 288));
  // Alice: this process, 320x240.
  std::string common = " room=both server=" + server.url ();
  Pipeline alice (member_sending ("alice", 320, 240, common) + " " +
      member_receiving ("alice", common));
  Receiver receiver (alice, "src");
  fail_if (alice.play () == GST_STATE_CHANGE_FAILURE);

  fail_unless (wait_for ([&] { return videos_at (receiver, 352, 288) == 1; }),
      "alice did not get bob's 352x288 video");
  fail_unless (wait_for ([&] { return view_got (bob.output (), 320, 240); }),
      "bob did not get alice's 320x240 video:\n%s", bob.output ().c_str ());
  // Two members, two connections to the server: not four.
  fail_unless_equals_int (server.health ("members"), 2);
  fail_unless_equals_int (server.health ("connections"), 2);
  // One peer connection, which both elements report.
  fail_unless_equals_int (peer_count (alice.get ("sink")), 1);
  fail_unless_equals_int (peer_count (alice.get ("src")), 1);
  assert_no_errors ({&alice});
}
GST_END_TEST;

// The two parts of a member in two pipelines of one process, started and
// stopped in turn while the call goes on.
GST_START_TEST (test_shared_start_stop)
{
  ServerProcess server;
  std::string common = " room=turns server=" + server.url ();
  Pipeline bob (member_sending ("bob", 352, 288, common) + " " +
      member_receiving ("bob", common));
  Receiver bob_view (bob, "src");
  fail_if (bob.play () == GST_STATE_CHANGE_FAILURE);
  fail_unless (wait_for ([&] { return bob.count ("p2pcall-joined") == 2; }));

  // Alice sends first, alone.
  auto alice_send = std::make_unique<Pipeline> (member_sending ("alice", 320,
          240, common));
  fail_if (alice_send->play () == GST_STATE_CHANGE_FAILURE);
  fail_unless (wait_for ([&] { return videos_at (bob_view, 320, 240) == 1; }),
      "bob did not get alice's video");

  // Her receiving part joins the call: the member now receives too, and
  // still sends.
  Pipeline alice_recv (member_receiving ("alice", common));
  Receiver alice_view (alice_recv, "src");
  fail_if (alice_recv.play () == GST_STATE_CHANGE_FAILURE);
  fail_unless (wait_for ([&] { return videos_at (alice_view, 352, 288) == 1; }),
      "alice's p2pcallsrc did not get bob's video");
  fail_unless (wait_for ([&] { return videos_at (bob_view, 320, 240) == 2; }),
      "bob lost alice's video when she started receiving");
  fail_unless_equals_int (server.health ("members"), 2);

  // Her sending part stops: she keeps receiving.
  alice_send.reset ();
  fail_unless (alice_view.keeps_receiving (30),
      "alice stopped receiving when her p2pcallsink stopped");
  fail_unless_equals_int (server.health ("members"), 2);

  // And it comes back: bob sees her again.
  alice_send = std::make_unique<Pipeline> (member_sending ("alice", 320, 240,
          common));
  fail_if (alice_send->play () == GST_STATE_CHANGE_FAILURE);
  fail_unless (wait_for ([&] { return videos_at (bob_view, 320, 240) == 3; }),
      "bob did not get alice's video after her p2pcallsink came back");
  fail_unless_equals_int (peer_count (bob.get ("sink")), 1);

  assert_no_errors ({&bob, &alice_recv, alice_send.get ()});
}
GST_END_TEST;

// Two p2pcallsinks cannot be the same member: the second says which.
GST_START_TEST (test_shared_same_kind)
{
  ServerProcess server;
  std::string line = "videotestsrc is-live=true ! p2pcallsink name=first "
      "room=dup peer-name=carol server=" + server.url ();
  Pipeline first (line);
  fail_if (first.play () == GST_STATE_CHANGE_FAILURE);
  Pipeline second ("videotestsrc is-live=true ! p2pcallsink name=second "
      "room=dup peer-name=carol server=" + server.url ());
  fail_unless_equals_int (second.play (), GST_STATE_CHANGE_FAILURE);
  second.poll ();
  fail_unless (!second.errors.empty ());
  const std::string &error = second.errors[0];
  for (const char *word : {"first", "second", "carol", "dup", "peer-name"})
    fail_unless (error.find (word) != std::string::npos,
        "'%s' not in: %s", word, error.c_str ());
}
GST_END_TEST;

// An input added to a p2pcallsink in a call reaches the peers.
GST_START_TEST (test_pad_added_mid_call)
{
  ServerProcess server;
  Pipeline viewer (src_pipeline (server.url (), "late-pad"));
  Receiver receiver (viewer, "src");
  fail_if (viewer.play () == GST_STATE_CHANGE_FAILURE);
  Pipeline sender ("videotestsrc is-live=true ! video/x-raw,width=320,"
      "height=240,framerate=15/1 ! p2pcallsink name=sink room=late-pad "
      "server=" + server.url ());
  fail_if (sender.play () == GST_STATE_CHANGE_FAILURE);
  fail_unless (wait_for ([&] { return receiver.has_media (1, 0); }));

  GstElement *audio = gst_element_factory_make ("audiotestsrc", nullptr);
  g_object_set (audio, "is-live", TRUE, nullptr);
  gst_bin_add (GST_BIN (sender.pipeline_), audio);
  fail_unless (gst_element_link_pads (audio, "src", sender.get ("sink"),
          "audio_%u"));
  gst_element_sync_state_with_parent (audio);
  fail_unless (wait_for ([&] { return receiver.has_media (1, 1); }),
      "the audio added mid-call did not arrive");
  // And the video still does, on the new connection.
  fail_unless (wait_for ([&] { return receiver.has_media (2, 1); }));
  sender.poll ();
  viewer.poll ();
  fail_unless (sender.errors.empty () && viewer.errors.empty ());
}
GST_END_TEST;

// A p2pcallsink offered to before one of its inputs has caps answers once
// they come, with every input.
GST_START_TEST (test_input_late_caps)
{
  ServerProcess server;
  // The viewer is in the room first: it offers, the sink answers at once.
  Pipeline viewer (src_pipeline (server.url (), "late-caps"));
  Receiver receiver (viewer, "src");
  fail_if (viewer.play () == GST_STATE_CHANGE_FAILURE);
  fail_unless (wait_for ([&] { return viewer.count ("p2pcall-joined"); }));
  Pipeline sender ("videotestsrc is-live=true ! video/x-raw,width=320,"
      "height=240,framerate=15/1 ! p2pcallsink name=sink room=late-caps "
      "server=" + server.url () + " audiotestsrc is-live=true ! "
      "valve name=valve drop=true ! sink.");
  fail_if (sender.play () == GST_STATE_CHANGE_FAILURE);
  fail_unless (wait_for ([&] { return sender.count ("p2pcall-joined"); }));
  // Past the viewer's offer (it comes within the clientId wait).
  wait_for ([] { return false; }, 1500 * 1000);
  g_object_set (sender.get ("valve"), "drop", FALSE, nullptr);
  fail_unless (wait_for ([&] { return receiver.has_media (1, 1); }),
      "the audio whose caps came late did not arrive");
  // In the one answer: no connection was made without it and then again.
  fail_unless_equals_int (receiver.snapshot ().size (), 2);
  fail_unless_equals_int (sender.count ("p2pcall-peer-joined"), 1);
}
GST_END_TEST;

// A member's parts stopped and started in quick succession: each change
// starts the connections over before the last offer was answered, and the
// call settles on the last one.
GST_START_TEST (test_shared_quick_changes)
{
  ServerProcess server;
  std::string common = " room=quick server=" + server.url ();
  Pipeline bob (member_sending ("bob", 352, 288, common) + " " +
      member_receiving ("bob", common));
  Receiver bob_view (bob, "src");
  fail_if (bob.play () == GST_STATE_CHANGE_FAILURE);
  Pipeline alice_send (member_sending ("alice", 320, 240, common));
  fail_if (alice_send.play () == GST_STATE_CHANGE_FAILURE);
  fail_unless (wait_for ([&] { return videos_at (bob_view, 320, 240) == 1; }));

  std::string receive = member_receiving ("alice", common);
  for (int i = 0; i < 3; i++) {
    Pipeline flash (receive);
    fail_if (flash.play () == GST_STATE_CHANGE_FAILURE);
  }
  Pipeline alice_recv (receive);
  Receiver alice_view (alice_recv, "src");
  fail_if (alice_recv.play () == GST_STATE_CHANGE_FAILURE);
  fail_unless (wait_for ([&] { return videos_at (alice_view, 352, 288) == 1; }),
      "alice did not get bob's video after the quick changes");
  // Bob gets alice's picture on the connection made last, and only one
  // connection is left. (Counted once bob has it: the two directions of
  // the last connection start their pictures in either order.)
  wait_for ([&] { return videos_at (bob_view, 320, 240) >= 2; });
  guint outputs = bob_view.snapshot ().size ();
  fail_unless (wait_for ([&] {
            return videos_at (bob_view, 320, 240) >= 2 &&
                bob_view.snapshot ().size () == outputs &&
                peer_count (bob.get ("sink")) == 1;
          }), "bob did not settle on one connection with alice's video");
  guint frames = 0;
  auto last_frames = [&] { return bob_view.snapshot ().back ().buffers; };
  frames = last_frames ();
  fail_unless (wait_for ([&] { return last_frames () > frames + 15; }),
      "alice's video does not flow on the last connection");
  assert_no_errors ({&bob, &alice_send, &alice_recv});
}
GST_END_TEST;

// What a p2pcallsrc outputs is timed in its own pipeline's running time
// (not in that of the member's pipeline, which started earlier here), and
// its pipeline's latency includes the jitter buffer's.
GST_START_TEST (test_shared_timestamps)
{
  ServerProcess server;
  std::string common = " room=clock server=" + server.url ();
  Pipeline bob (member_sending ("bob", 320, 240, common));
  fail_if (bob.play () == GST_STATE_CHANGE_FAILURE);
  // Alice's member (and its pipeline) starts with her sending part...
  Pipeline alice_send ("videotestsrc is-live=true ! p2pcallsink "
      "peer-name=alice" + common);
  fail_if (alice_send.play () == GST_STATE_CHANGE_FAILURE);
  fail_unless (wait_for ([&] { return alice_send.count ("p2pcall-joined"); }));
  wait_for ([] { return false; }, 3 * G_USEC_PER_SEC);

  // ...and her receiving part, 3 s later, has a running time 3 s behind.
  Pipeline alice_recv ("p2pcallsrc name=src layout=separate latency=100 "
      "peer-name=alice" + common + " ! fakesink name=out sync=true");
  struct Lateness {
    std::mutex lock;
    std::vector<GstClockTimeDiff> samples;      // buffer minus clock
  } lateness;
  g_autoptr (GstPad) sink_pad = gst_element_get_static_pad (
      alice_recv.get ("out"), "sink");
  gst_pad_add_probe (sink_pad, GST_PAD_PROBE_TYPE_BUFFER,
      +[] (GstPad * pad, GstPadProbeInfo * info, gpointer data) {
        auto l = static_cast<Lateness *> (data);
        GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER (info);
        g_autoptr (GstEvent) event = gst_pad_get_sticky_event (pad,
            GST_EVENT_SEGMENT, 0);
        g_autoptr (GstElement) sink = gst_pad_get_parent_element (pad);
        g_autoptr (GstClock) clock = gst_element_get_clock (sink);
        if (!event || !clock || !GST_BUFFER_PTS_IS_VALID (buffer))
          return GST_PAD_PROBE_OK;
        const GstSegment *segment;
        gst_event_parse_segment (event, &segment);
        GstClockTime running = gst_segment_to_running_time (segment,
            GST_FORMAT_TIME, GST_BUFFER_PTS (buffer)) + gst_pad_get_offset (pad);
        GstClockTime now = gst_clock_get_time (clock) -
            gst_element_get_base_time (sink);
        std::lock_guard<std::mutex> guard (l->lock);
        l->samples.push_back (GST_CLOCK_DIFF (now, running));
        return GST_PAD_PROBE_OK;
      }, &lateness, nullptr);
  fail_if (alice_recv.play () == GST_STATE_CHANGE_FAILURE);
  fail_unless (wait_for ([&] {
            std::lock_guard<std::mutex> guard (lateness.lock);
            return lateness.samples.size () >= 30;
          }), "no video reached alice's p2pcallsrc pipeline (%zu: %"
      GST_STIME_FORMAT ")", lateness.samples.size (), GST_STIME_ARGS (
          lateness.samples.empty () ? 0 : lateness.samples[0]));

  // Each frame's running time is about now: the jitter buffer's 100 ms,
  // give or take a frame, not 3 s off either way.
  std::vector<GstClockTimeDiff> samples;
  {
    std::lock_guard<std::mutex> guard (lateness.lock);
    samples.assign (lateness.samples.begin () + 10, lateness.samples.end ());
  }
  std::sort (samples.begin (), samples.end ());
  GstClockTimeDiff median = samples[samples.size () / 2];
  g_print ("frame running time minus clock running time: median %"
      GST_STIME_FORMAT "\n", GST_STIME_ARGS (median));
  fail_unless (median > -GST_SECOND && median < GST_SECOND,
      "frames are %" GST_STIME_FORMAT " off the receiving pipeline's clock",
      GST_STIME_ARGS (median));

  g_autoptr (GstQuery) query = gst_query_new_latency ();
  fail_unless (gst_element_query (alice_recv.pipeline_, query));
  gboolean live;
  GstClockTime min_latency;
  gst_query_parse_latency (query, &live, &min_latency, nullptr);
  fail_unless (live);
  fail_unless (min_latency >= 100 * GST_MSECOND, "latency %" GST_TIME_FORMAT
      " leaves out the jitter buffer's 100 ms", GST_TIME_ARGS (min_latency));
  alice_recv.poll ();
  fail_unless (alice_recv.errors.empty ());
}
GST_END_TEST;

// Two members that send nothing make no connection; once one of them sends,
// it offers to the other.
GST_START_TEST (test_receive_only_members)
{
  ServerProcess server;
  std::string common = " room=quiet server=" + server.url ();
  Pipeline bob (member_receiving ("bob", common));
  Receiver bob_view (bob, "src");
  fail_if (bob.play () == GST_STATE_CHANGE_FAILURE);
  fail_unless (wait_for ([&] { return bob.count ("p2pcall-joined"); }));
  Pipeline alice_recv (member_receiving ("alice", common));
  fail_if (alice_recv.play () == GST_STATE_CHANGE_FAILURE);
  fail_unless (wait_for ([&] { return alice_recv.count ("p2pcall-joined"); }));
  // Past the wait for the newcomer's peer-state, then some.
  wait_for ([] { return false; }, 2 * G_USEC_PER_SEC);
  fail_unless_equals_int (peer_count (bob.get ("src")), 0);
  fail_unless_equals_int (peer_count (alice_recv.get ("src")), 0);

  // Alice (who joined second) starts sending: she offers to bob.
  Pipeline alice_send (member_sending ("alice", 320, 240, common));
  fail_if (alice_send.play () == GST_STATE_CHANGE_FAILURE);
  fail_unless (wait_for ([&] { return videos_at (bob_view, 320, 240) == 1; }),
      "bob did not get alice's video once she sent");
  fail_unless_equals_int (peer_count (bob.get ("src")), 1);

  // Carol comes after bob; neither sends, no connection. Then bob (who was
  // there first) sends: he offers to carol.
  Pipeline carol (member_receiving ("carol", common));
  Receiver carol_view (carol, "src");
  fail_if (carol.play () == GST_STATE_CHANGE_FAILURE);
  fail_unless (wait_for ([&] { return videos_at (carol_view, 320, 240) == 1; }),
      "carol did not get alice's video");
  wait_for ([] { return false; }, 2 * G_USEC_PER_SEC);
  fail_unless_equals_int (peer_count (carol.get ("src")), 1);
  Pipeline bob_send (member_sending ("bob", 176, 144, common));
  fail_if (bob_send.play () == GST_STATE_CHANGE_FAILURE);
  fail_unless (wait_for ([&] { return videos_at (carol_view, 176, 144) == 1; }),
      "carol did not get bob's video once he sent");
  fail_unless_equals_int (peer_count (carol.get ("src")), 2);
  assert_no_errors ({&bob, &alice_recv, &alice_send, &carol, &bob_send});
}
GST_END_TEST;

// Two members whose receiving parts stop, and then start, at the same
// moment both start their connection over at once: the offers collide and
// the call settles on one of them, with media both ways.
GST_START_TEST (test_shared_glare)
{
  ServerProcess server;
  std::string common = " room=glare server=" + server.url ();
  Pipeline alice_send (member_sending ("alice", 320, 240, common));
  Pipeline bob_send (member_sending ("bob", 352, 240, common));
  fail_if (alice_send.play () == GST_STATE_CHANGE_FAILURE);
  fail_if (bob_send.play () == GST_STATE_CHANGE_FAILURE);
  {
    Pipeline alice_recv (member_receiving ("alice", common));
    Pipeline bob_recv (member_receiving ("bob", common));
    Receiver alice_view (alice_recv, "src");
    Receiver bob_view (bob_recv, "src");
    fail_if (alice_recv.play () == GST_STATE_CHANGE_FAILURE);
    fail_if (bob_recv.play () == GST_STATE_CHANGE_FAILURE);
    fail_unless (wait_for ([&] {
              return videos_at (alice_view, 352, 240) >= 1 &&
                  videos_at (bob_view, 320, 240) >= 1;
            }), "no call both ways to begin with");
  }     // both receiving parts stop at once

  Pipeline alice_recv (member_receiving ("alice", common));
  Pipeline bob_recv (member_receiving ("bob", common));
  Receiver alice_view (alice_recv, "src");
  Receiver bob_view (bob_recv, "src");
  fail_if (alice_recv.play () == GST_STATE_CHANGE_FAILURE);
  fail_if (bob_recv.play () == GST_STATE_CHANGE_FAILURE);
  fail_unless (wait_for ([&] { return videos_at (alice_view, 352, 240) >= 1; }),
      "alice did not get bob's video after both restarted receiving");
  fail_unless (wait_for ([&] { return videos_at (bob_view, 320, 240) >= 1; }),
      "bob did not get alice's video after both restarted receiving");
  assert_no_errors ({&alice_send, &bob_send, &alice_recv, &bob_recv});
}
GST_END_TEST;

static Suite *
p2pcall_suite (void)
{
  Suite *s = suite_create ("p2pcall");
  TCase *tc = tcase_create ("general");
  tcase_set_timeout (tc, 60);
  tcase_add_checked_fixture (tc, nullptr, join_streaming_threads);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_registration);
  tcase_add_test (tc, test_sink_to_src);
  tcase_add_test (tc, test_three_members);
  tcase_add_test (tc, test_h264);
  tcase_add_test (tc, test_vp9);
  tcase_add_test (tc, test_sink_eos);
  tcase_add_test (tc, test_server_unreachable);
  tcase_add_test (tc, test_bad_room);
  tcase_add_test (tc, test_server_restart);
  tcase_add_test (tc, test_shared_two_processes);
  tcase_add_test (tc, test_shared_start_stop);
  tcase_add_test (tc, test_shared_same_kind);
  tcase_add_test (tc, test_shared_quick_changes);
  tcase_add_test (tc, test_shared_timestamps);
  tcase_add_test (tc, test_receive_only_members);
  tcase_add_test (tc, test_shared_glare);
  tcase_add_test (tc, test_pad_added_mid_call);
  tcase_add_test (tc, test_input_late_caps);
  return s;
}

GST_CHECK_MAIN (p2pcall);
