// p2pcallsink / p2pcallsrc hardened: TLS to the signalling server (ca-file,
// or a clear refusal), calls relayed through a real coturn with TURN REST
// credentials (and an expired one refused), and faults: a member killed or
// frozen mid-call. Each test runs as its own meson test in a loopback-only
// network namespace: GST_CHECKS=<name> runs one.
#include "gst-test-turn.h"

#include <gst/webrtc/webrtc.h>

namespace {

void
run_or_fail (std::vector<const char *> argv)
{
  argv.push_back (nullptr);
  g_autofree char *err_out = nullptr;
  g_autoptr (GError) err = nullptr;
  int status = 0;
  gboolean ok = g_spawn_sync (nullptr, (char **) argv.data (), nullptr,
      (GSpawnFlags) (G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL),
      nullptr, nullptr, nullptr, &err_out, &status, &err);
  fail_unless (ok && g_spawn_check_wait_status (status, nullptr),
      "%s failed: %s", argv[0], err ? err->message : err_out);
}

// A self-signed certificate for 127.0.0.1: the test's own CA, which the
// system's CA list does not know.
struct Certificate {
  TempDir dir;
  std::string cert = dir.file ("cert.pem");
  std::string key = dir.file ("key.pem");

  Certificate ()
  {
    run_or_fail ({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
        "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key.c_str (),
        "-out", cert.c_str (), "-days", "1", "-subj", "/CN=127.0.0.1",
        "-addext", "subjectAltName=IP:127.0.0.1"});
  }
};

// Another member of the room in a process of its own (gst-launch-1.0), to be
// killed or frozen.
// The types of local candidate (host, srflx, relay) each peer connection
// of a p2pcallsink / p2pcallsrc gathered, from its stats.
std::vector<std::string>
local_candidate_types (GstElement *element)
{
  std::vector<std::string> types;
  for_each_peer (element, [&] (const GstStructure *peer) {
        g_auto (GStrv) list = g_strsplit (gst_structure_get_string (peer,
                "local-candidate-types"), ",", -1);
        for (char **t = list; *t; t++)
          if (**t)
            types.push_back (*t);
      });
  return types;
}

constexpr const char kTurnSecret[] = "coturn-shared-secret";

}  // namespace

GST_START_TEST (test_tls_ca_file)
{
  Certificate certificate;
  ServerProcess server (0, {"--tls-cert", certificate.cert, "--tls-key",
      certificate.key});
  std::string url = server.url ();
  fail_unless (g_str_has_prefix (url.c_str (), "wss://"), "%s", url.c_str ());

  // Trusting the test's CA through ca-file: the call works.
  Pipeline sender (sink_pipeline (url, "secure"));
  g_object_set (sender.get ("sink"), "ca-file", certificate.cert.c_str (),
      nullptr);
  fail_if (sender.play () == GST_STATE_CHANGE_FAILURE);
  fail_unless (wait_for ([&] { return sender.count ("p2pcall-joined"); }));
  Pipeline viewer (src_pipeline (url, "secure"));
  g_object_set (viewer.get ("src"), "ca-file", certificate.cert.c_str (),
      nullptr);
  Receiver receiver (viewer, "src");
  fail_if (viewer.play () == GST_STATE_CHANGE_FAILURE);
  fail_unless (wait_for ([&] { return receiver.has_media (1, 1); }),
      "no media over a wss:// server trusted through ca-file");

  // The system's CAs do not know it: refused, with the URL and the reason.
  Pipeline stranger (src_pipeline (url, "secure"));
  stranger.play ();
  fail_unless (wait_for ([&] {
            stranger.poll ();
            return !stranger.errors.empty ();
          }), "an untrusted server certificate was accepted");
  const std::string &error = stranger.errors[0];
  fail_unless (error.find (url) != std::string::npos,
      "the error does not name the URL: %s", error.c_str ());
  fail_unless (error.find ("not signed by a trusted authority") !=
      std::string::npos, "the error does not say why: %s", error.c_str ());
  fail_unless_equals_int (stranger.count ("p2pcall-joined"), 0);

  // A ca-file that cannot be read stops the element from starting.
  Pipeline missing (src_pipeline (url, "secure"));
  g_object_set (missing.get ("src"), "ca-file", "/nonexistent/ca.pem",
      nullptr);
  fail_unless_equals_int (missing.play (), GST_STATE_CHANGE_FAILURE);
  missing.poll ();
  fail_unless (!missing.errors.empty ());
  fail_unless (missing.errors[0].find ("/nonexistent/ca.pem") !=
      std::string::npos, "%s", missing.errors[0].c_str ());
}
GST_END_TEST;

GST_START_TEST (test_turn_relay)
{
  Coturn turn (kTurnSecret);
  ServerProcess server (0, {"--turn-server", turn.url (), "--turn-secret",
      kTurnSecret, "--turn-ttl", "1h"});
  Pipeline sender (sink_pipeline (server.url (), "relayed"));
  gst_util_set_object_arg (G_OBJECT (sender.get ("sink")),
      "ice-transport-policy", "relay");
  fail_if (sender.play () == GST_STATE_CHANGE_FAILURE);
  fail_unless (wait_for ([&] { return sender.count ("p2pcall-joined"); }));
  Pipeline viewer (src_pipeline (server.url (), "relayed"));
  gst_util_set_object_arg (G_OBJECT (viewer.get ("src")),
      "ice-transport-policy", "relay");
  Receiver receiver (viewer, "src");
  fail_if (viewer.play () == GST_STATE_CHANGE_FAILURE);
  fail_unless (wait_for ([&] { return receiver.has_media (1, 1, 30); }),
      "no media through the relay; coturn said:\n%s", turn.log ().c_str ());

  // Both ends used relay candidates only, and coturn granted them.
  for (GstElement *bin : {sender.get ("sink"), viewer.get ("src")}) {
    std::vector<std::string> types = local_candidate_types (bin);
    fail_if (types.empty (), "%s reports no local candidate",
        GST_OBJECT_NAME (bin));
    for (const std::string &type : types)
      fail_unless_equals_string (type.c_str (), "relay");
  }
  std::string log = turn.log ();
  fail_unless (log.find ("ALLOCATE processed, success") != std::string::npos,
      "coturn made no allocation:\n%s", log.c_str ());
  sender.poll ();
  viewer.poll ();
  fail_unless (sender.errors.empty () && viewer.errors.empty ());
  for (const std::string &w : sender.warnings)
    fail_if (w.find ("No relay candidate") != std::string::npos, "%s",
        w.c_str ());
}
GST_END_TEST;

GST_START_TEST (test_turn_expired_credential)
{
  Coturn turn (kTurnSecret);
  ServerProcess server;
  // Signed with the right secret, but an hour past its expiry.
  std::string user = std::to_string (g_get_real_time () / G_USEC_PER_SEC -
      3600) + ":expired";
  std::string turn_uri = turn.uri (user, turn_password (kTurnSecret, user));

  Pipeline sender (sink_pipeline (server.url (), "expired"));
  Pipeline viewer (src_pipeline (server.url (), "expired"));
  for (GstElement *e : {sender.get ("sink"), viewer.get ("src")}) {
    g_object_set (e, "turn-server", turn_uri.c_str (), nullptr);
    gst_util_set_object_arg (G_OBJECT (e), "ice-transport-policy", "relay");
  }
  Receiver receiver (viewer, "src");
  fail_if (sender.play () == GST_STATE_CHANGE_FAILURE);
  fail_unless (wait_for ([&] { return sender.count ("p2pcall-joined"); }));
  fail_if (viewer.play () == GST_STATE_CHANGE_FAILURE);
  fail_unless (wait_for ([&] { return viewer.count ("p2pcall-joined"); }));

  // coturn refuses the allocation...
  fail_unless (wait_for ([&] {
            return turn.log ().find ("401") != std::string::npos;
          }), "coturn did not refuse the expired credential:\n%s",
      turn.log ().c_str ());
  std::string log = turn.log ();
  fail_unless (log.find ("ALLOCATE processed, success") == std::string::npos,
      "coturn granted an expired credential:\n%s", log.c_str ());
  // ...so there is no relay candidate, and no media.
  g_usleep (3 * G_USEC_PER_SEC);
  for (GstElement *bin : {sender.get ("sink"), viewer.get ("src")})
    for (const std::string &type : local_candidate_types (bin))
      fail_if (type == "relay", "a relay candidate from an expired credential");
  fail_unless_equals_int (receiver.buffers (true), 0);
  // ...and the element says why, naming the TURN server.
  std::string host = "127.0.0.1:" + std::to_string (turn.port ());
  fail_unless (wait_for ([&] {
            viewer.poll ();
            for (const std::string &w : viewer.warnings)
              if (w.find ("No relay candidate from the TURN server " + host) !=
                  std::string::npos)
                return true;
            return false;
          }), "no warning about the refused TURN credential");
}
GST_END_TEST;

// The survivor is a p2pcallsrc receiving a p2pcallsink that runs in another
// process; @fault is done to that process once video flows. The server
// pings every kKeepalive seconds and drops a member silent for two.
static void
check_member_fault (int fault)
{
  constexpr int kKeepalive = 2;
  ServerProcess server (0, {"--keepalive-interval",
      std::to_string (kKeepalive)});
  Pipeline viewer (src_pipeline (server.url (), "fault"));
  Receiver receiver (viewer, "src");
  fail_if (viewer.play () == GST_STATE_CHANGE_FAILURE);
  fail_unless (wait_for ([&] { return viewer.count ("p2pcall-joined"); }));

  MemberProcess member ("videotestsrc is-live=true ! video/x-raw,width=320,"
      "height=240,framerate=15/1 ! p2pcallsink room=fault server=" +
      server.url ());
  fail_unless (wait_for ([&] { return receiver.has_media (1, 0); }),
      "no video from the member");
  GstElement *src = viewer.get ("src");
  fail_unless_equals_int (peer_count (src), 1);

  gint64 start = g_get_monotonic_time ();
  member.send_signal (fault);
  // Two keep-alive intervals, and time for a loaded machine.
  fail_unless (wait_for ([&] { return viewer.count ("p2pcall-peer-left"); },
          (2 * kKeepalive + 8) * G_USEC_PER_SEC),
      "the member's departure was not noticed");
  g_print ("%s: peer left %.1f s after the fault (keep-alive %d s)\n",
      g_strsignal (fault), (g_get_monotonic_time () - start) / 1e6,
      kKeepalive);
  // Its webrtcbin and its pads are gone.
  fail_unless_equals_int (peer_count (src), 0);
  fail_unless_equals_int (src->numsrcpads, 0);
  for (const Received &r : receiver.snapshot ())
    fail_unless (r.eos, "no EOS on %s", r.pad_name.c_str ());
  viewer.poll ();
  fail_unless (viewer.errors.empty ());
}

GST_START_TEST (test_member_killed)
{
  check_member_fault (SIGKILL);
}
GST_END_TEST;

GST_START_TEST (test_member_frozen)
{
  // SIGSTOP: the process answers neither WebSocket pings nor ICE, as when
  // its network goes away; the MemberProcess continues and kills it after.
  check_member_fault (SIGSTOP);
}
GST_END_TEST;

static Suite *
hardening_suite (void)
{
  Suite *s = suite_create ("p2pcall-hardening");
  TCase *tc = tcase_create ("general");
  tcase_set_timeout (tc, 60);
  tcase_add_checked_fixture (tc, nullptr, join_streaming_threads);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_tls_ca_file);
  tcase_add_test (tc, test_turn_relay);
  tcase_add_test (tc, test_turn_expired_credential);
  tcase_add_test (tc, test_member_killed);
  tcase_add_test (tc, test_member_frozen);
  return s;
}

GST_CHECK_MAIN (hardening);
