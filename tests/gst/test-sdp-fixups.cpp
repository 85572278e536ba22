// The session's SDP rules (gst/sdp_fixups) on their own, on descriptions
// captured from real sessions (tests/gst/sdp/README.md says how): Chromium
// and Firefox pages and webrtcbin in p2pcallsink / p2pcallsrc. No network,
// no pipeline: GST_CHECKS=<name> runs one.
#include "../../gst/sdp_fixups.h"

#include <gst/check/gstcheck.h>

#include <string>

using namespace p2pcall;

namespace {

// A captured description from tests/gst/sdp/; fails the test when it is
// missing or does not parse.
struct Sdp {
  explicit Sdp (const char *name)
  {
    g_autofree char *path = g_build_filename (P2PCALL_SDP_DIR, name, nullptr);
    g_autofree char *text = nullptr;
    g_autoptr (GError) error = nullptr;
    fail_unless (g_file_get_contents (path, &text, nullptr, &error),
        "%s: %s", path, error ? error->message : "");
    fail_unless (gst_sdp_message_new_from_text (text, &msg) == GST_SDP_OK &&
        msg != nullptr, "%s does not parse", path);
  }
  ~Sdp () { gst_sdp_message_free (msg); }
  Sdp (const Sdp &) = delete;
  Sdp &operator= (const Sdp &) = delete;

  const GstSDPMedia *media (guint i) const
  {
    fail_unless (i < gst_sdp_message_medias_len (msg));
    return gst_sdp_message_get_media (msg, i);
  }
  GstSDPMedia *writable (guint i)
  {
    return const_cast<GstSDPMedia *> (media (i));
  }
  std::string value (guint i, const char *key) const
  {
    const char *v = gst_sdp_media_get_attribute_val (media (i), key);
    return v ? v : "";
  }
  // The value of the first session-level a=@key, or "".
  std::string session_value (const char *key) const
  {
    const char *v = gst_sdp_message_get_attribute_val (msg, key);
    return v ? v : "";
  }
  guint count () const { return gst_sdp_message_medias_len (msg); }

  GstSDPMessage *msg = nullptr;
};

// The index of @sdp's first m-line of @kind.
guint
index_of (const Sdp &sdp, const char *kind)
{
  for (guint i = 0; i < sdp.count (); i++)
    if (g_strcmp0 (gst_sdp_media_get_media (sdp.media (i)), kind) == 0)
      return i;
  fail ("no %s m-line", kind);
  return 0;
}

}  // namespace

// Firefox leaves the ICE credentials and a=setup out of the m-line it
// rejects (here the H.264 video it cannot decode); webrtcbin refuses such
// a description. The rejected m-line gets the bundle's.
GST_START_TEST (test_complete_rejected_mlines)
{
  Sdp answer ("firefox-answer-h264-refused.sdp");
  guint video = index_of (answer, "video");
  fail_unless_equals_int (gst_sdp_media_get_port (answer.media (video)), 0);
  fail_unless (answer.value (video, "ice-ufrag").empty (),
      "the capture is not what Firefox sends");
  complete_rejected_mlines (answer.msg);
  for (const char *key : {"ice-ufrag", "ice-pwd", "setup"})
    fail_unless_equals_string (answer.value (video, key).c_str (),
        answer.value (0, key).c_str ());
  // Still rejected, and the accepted m-line is untouched.
  fail_unless_equals_int (gst_sdp_media_get_port (answer.media (video)), 0);
  fail_unless_equals_string (answer.value (0, "setup").c_str (), "active");

  // A complete description is left as it is.
  Sdp offer ("chromium-offer.sdp");
  g_autofree char *before = gst_sdp_message_as_text (offer.msg);
  complete_rejected_mlines (offer.msg);
  g_autofree char *after = gst_sdp_message_as_text (offer.msg);
  fail_unless_equals_string (after, before);
}
GST_END_TEST;

// Which of our m-lines a peer refused, and what we offered there: Firefox
// without OpenH264 refuses our H.264 video.
GST_START_TEST (test_refused_media)
{
  Sdp offer ("webrtcbin-offer-h264.sdp");
  Sdp answer ("firefox-answer-h264-refused.sdp");
  std::vector<RefusedMedia> refused = refused_media (offer.msg, answer.msg);
  fail_unless_equals_int (refused.size (), 1);
  fail_unless_equals_int (refused[0].index, index_of (offer, "video"));
  fail_unless_equals_string (refused[0].media.c_str (), "video");
  fail_unless_equals_string (refused[0].codecs.c_str (), "H264");

  // A bundle-only m-line of ours (port 0 too) that the peer answered is
  // not refused.
  Sdp ours ("webrtcbin-offer.sdp");
  Sdp accepted ("webrtcbin-answer.sdp");
  fail_unless_equals_int (gst_sdp_media_get_port (ours.media (1)), 0);
  fail_unless (refused_media (ours.msg, accepted.msg).empty ());
  Sdp to_chromium ("webrtcbin-offer-to-chromium.sdp");
  Sdp chromium ("chromium-answer.sdp");
  fail_unless (refused_media (to_chromium.msg, chromium.msg).empty ());
}
GST_END_TEST;

// Codecs are named without the retransmission and error correction
// formats Chromium lists next to them.
GST_START_TEST (test_codec_names)
{
  Sdp offer ("chromium-offer.sdp");
  std::string names = codec_names (offer.media (index_of (offer, "video")));
  fail_unless (names.find ("VP8") != std::string::npos, "%s", names.c_str ());
  fail_unless (names.find ("H264") != std::string::npos, "%s", names.c_str ());
  for (const char *not_codec : {"rtx", "red", "ulpfec"})
    fail_unless (names.find (not_codec) == std::string::npos, "%s",
        names.c_str ());
  fail_unless_equals_string (codec_names (offer.media (index_of (offer,
                  "audio"))).substr (0, 4).c_str (), "opus");
}
GST_END_TEST;

// Firefox re-offers with a=setup:actpass on every renegotiation, and
// webrtcbin answers it with active although our first offer made it the
// DTLS server (Firefox answered active): both ends would be DTLS clients.
// The role the last negotiation settled is kept.
GST_START_TEST (test_keep_dtls_role)
{
  Sdp local ("webrtcbin-offer-to-firefox.sdp");
  Sdp remote ("firefox-answer.sdp");
  Sdp reoffer ("firefox-reoffer.sdp");
  Sdp answer ("webrtcbin-answer-to-firefox-reoffer.sdp");
  fail_unless_equals_int (dtls_setup_of (local.media (0)),
      GST_WEBRTC_DTLS_SETUP_ACTPASS);
  fail_unless_equals_int (dtls_setup_of (remote.media (0)),
      GST_WEBRTC_DTLS_SETUP_ACTIVE);
  fail_unless_equals_int (dtls_setup_of (reoffer.media (0)),
      GST_WEBRTC_DTLS_SETUP_ACTPASS);
  fail_unless_equals_int (settled_dtls_role (local.msg, remote.msg, 0),
      GST_WEBRTC_DTLS_SETUP_PASSIVE);
  // Past the m-lines of that negotiation: nothing settled.
  fail_unless_equals_int (settled_dtls_role (local.msg, remote.msg, 99),
      GST_WEBRTC_DTLS_SETUP_NONE);

  for (guint i = 0; i < answer.count (); i++)
    fail_unless_equals_string (answer.value (i, "setup").c_str (), "active");
  keep_dtls_role (answer.msg, local.msg, remote.msg);
  for (guint i = 0; i < answer.count (); i++)
    fail_unless_equals_string (answer.value (i, "setup").c_str (), "passive");

  // Where the peer offered first and we answered active, active it stays.
  Sdp again ("webrtcbin-answer-to-firefox-reoffer.sdp");
  Sdp ours ("webrtcbin-answer.sdp");
  Sdp theirs ("webrtcbin-offer.sdp");
  keep_dtls_role (again.msg, ours.msg, theirs.msg);
  for (guint i = 0; i < again.count (); i++)
    fail_unless_equals_string (again.value (i, "setup").c_str (), "active");

  // Nothing negotiated yet: the answer is left as webrtcbin wrote it.
  Sdp fresh ("webrtcbin-answer-to-firefox-reoffer.sdp");
  keep_dtls_role (fresh.msg, nullptr, nullptr);
  fail_unless_equals_string (fresh.value (0, "setup").c_str (), "active");
}
GST_END_TEST;

// Firefox re-offers the H.264 video it refused with port 0 (not
// bundle-only), and webrtcbin answers it as an inactive member of the
// bundle without a=rtcp-mux, an answer Firefox refuses. It is rejected in
// our answer too, with a=rtcp-mux, and out of the bundle.
GST_START_TEST (test_reject_what_the_offer_rejected)
{
  Sdp offer ("firefox-reoffer-video-rejected.sdp");
  Sdp answer ("webrtcbin-answer-to-rejected-video.sdp");
  guint video = index_of (offer, "video");
  fail_unless_equals_int (gst_sdp_media_get_port (offer.media (video)), 0);
  std::string mid = answer.value (video, "mid");
  fail_unless (!mid.empty ());
  fail_unless (gst_sdp_media_get_port (answer.media (video)) != 0,
      "the capture is not what webrtcbin answers");
  fail_if (sdp_media_has_attribute (answer.media (video), "rtcp-mux"));
  fail_unless (answer.session_value ("group").find (mid) != std::string::npos);

  reject_what_the_offer_rejected (answer.msg, offer.msg);
  fail_unless_equals_int (gst_sdp_media_get_port (answer.media (video)), 0);
  fail_unless (sdp_media_has_attribute (answer.media (video), "rtcp-mux"));
  std::string group = answer.session_value ("group");
  guint audio = index_of (offer, "audio");
  fail_unless_equals_string (group.c_str (),
      ("BUNDLE " + answer.value (audio, "mid")).c_str ());
  // The audio stays as it was.
  fail_unless (gst_sdp_media_get_port (answer.media (audio)) != 0);

  // An offer that rejects nothing changes nothing.
  Sdp first ("firefox-reoffer.sdp");
  Sdp accepted ("webrtcbin-answer-to-firefox-reoffer.sdp");
  g_autofree char *before = gst_sdp_message_as_text (accepted.msg);
  reject_what_the_offer_rejected (accepted.msg, first.msg);
  g_autofree char *after = gst_sdp_message_as_text (accepted.msg);
  fail_unless_equals_string (after, before);
}
GST_END_TEST;

// A member that receives nothing answers inactive where webrtcbin says
// recvonly, and sendonly where it says sendrecv.
GST_START_TEST (test_refuse_receiving)
{
  Sdp answer ("webrtcbin-answer.sdp");
  for (guint i = 0; i < answer.count (); i++)
    fail_unless (sdp_media_has_attribute (answer.media (i), "recvonly"));
  refuse_receiving (answer.msg);
  for (guint i = 0; i < answer.count (); i++) {
    fail_unless (sdp_media_has_attribute (answer.media (i), "inactive"));
    fail_if (sdp_media_has_attribute (answer.media (i), "recvonly"));
  }

  Sdp both ("chromium-offer.sdp");
  guint video = index_of (both, "video");
  fail_unless (sdp_media_has_attribute (both.media (video), "sendrecv"));
  refuse_receiving (both.msg);
  fail_unless (sdp_media_has_attribute (both.media (video), "sendonly"));
  fail_if (sdp_media_has_attribute (both.media (video), "sendrecv"));
}
GST_END_TEST;

// The sink looks up the payload type the peer's offer gives each of its
// codecs, in the nth m-line of a kind.
GST_START_TEST (test_payload_type_lookup)
{
  Sdp offer ("chromium-offer.sdp");
  const GstSDPMedia *video = nth_media (offer.msg, "video", 0);
  const GstSDPMedia *audio = nth_media (offer.msg, "audio", 0);
  fail_unless (video && audio);
  fail_unless (nth_media (offer.msg, "video", 1) == nullptr);
  // The page's data channel is an m-line of its own kind.
  const GstSDPMedia *data = nth_media (offer.msg, "application", 0);
  fail_unless (data && data != video && data != audio);
  fail_unless (nth_media (offer.msg, "text", 0) == nullptr);
  fail_unless (media_receives (video));

  // What the capture's rtpmap lines say, case-insensitively.
  int vp8 = payload_type_of (video, "VP8");
  fail_unless (vp8 >= 96 && vp8 <= 127, "VP8 %d", vp8);
  std::string rtpmap = std::to_string (vp8) + " VP8/90000";
  bool found = false;
  for (guint a = 0; a < gst_sdp_media_attributes_len (video); a++) {
    const GstSDPAttribute *attr = gst_sdp_media_get_attribute (video, a);
    found |= g_strcmp0 (attr->key, "rtpmap") == 0 && attr->value &&
        rtpmap == attr->value;
  }
  fail_unless (found, "no a=rtpmap:%s", rtpmap.c_str ());
  fail_unless (payload_type_of (video, "h264") >= 96);
  fail_unless (payload_type_of (audio, "OPUS") >= 96);
  fail_unless_equals_int (payload_type_of (audio, "VP8"), -1);
  fail_unless_equals_int (payload_type_of (video, "AV2"), -1);

  // Our own offer sends only: a peer answering it takes nothing from us
  // there.
  Sdp ours ("webrtcbin-offer.sdp");
  fail_if (media_receives (nth_media (ours.msg, "audio", 0)));
}
GST_END_TEST;

static Suite *
sdp_fixups_suite (void)
{
  Suite *s = suite_create ("p2pcall-sdp-fixups");
  TCase *tc = tcase_create ("general");
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_complete_rejected_mlines);
  tcase_add_test (tc, test_refused_media);
  tcase_add_test (tc, test_codec_names);
  tcase_add_test (tc, test_keep_dtls_role);
  tcase_add_test (tc, test_reject_what_the_offer_rejected);
  tcase_add_test (tc, test_refuse_receiving);
  tcase_add_test (tc, test_payload_type_lookup);
  return s;
}

GST_CHECK_MAIN (sdp_fixups);
