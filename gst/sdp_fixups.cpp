#include "sdp_fixups.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace p2pcall {

namespace {

GstSDPMedia *
writable_media (GstSDPMessage *sdp, guint index)
{
  return const_cast<GstSDPMedia *> (gst_sdp_message_get_media (sdp, index));
}

// Replaces @media's attribute @index by @key:@value.
void
replace_media_attribute (GstSDPMedia *media, guint index, const char *key,
    const char *value)
{
  GstSDPAttribute replaced = { nullptr, nullptr };
  gst_sdp_attribute_set (&replaced, key, value);
  gst_sdp_media_replace_attribute (media, index, &replaced);
}

}  // namespace

bool
sdp_media_has_attribute (const GstSDPMedia *media, const char *key)
{
  for (guint a = 0; a < gst_sdp_media_attributes_len (media); a++)
    if (g_strcmp0 (gst_sdp_media_get_attribute (media, a)->key, key) == 0)
      return true;
  return false;
}

// Firefox leaves ICE credentials and a=setup out of the m-lines it rejects
// (port 0), as JSEP allows, but webrtcbin refuses a description where any
// m-line lacks them: the whole answer (or offer) failed and so did the call.
// A rejected m-line carries nothing, so it gets those of the bundle.
void
complete_rejected_mlines (GstSDPMessage *sdp)
{
  for (const char *key : {"ice-ufrag", "ice-pwd", "setup"}) {
    std::string value;
    for (guint i = 0; i < gst_sdp_message_medias_len (sdp) && value.empty ();
        i++) {
      const char *v = gst_sdp_media_get_attribute_val (
          gst_sdp_message_get_media (sdp, i), key);
      value = v ? v : "";
    }
    if (value.empty ())
      continue;     // none anywhere, or at session level only
    for (guint i = 0; i < gst_sdp_message_medias_len (sdp); i++) {
      GstSDPMedia *media = writable_media (sdp, i);
      if (gst_sdp_media_get_port (media) == 0 &&
          !gst_sdp_media_get_attribute_val (media, key))
        gst_sdp_media_add_attribute (media, key, value.c_str ());
    }
  }
}

GstWebRTCDTLSSetup
dtls_setup_of (const GstSDPMedia *media)
{
  const char *setup = gst_sdp_media_get_attribute_val (media, "setup");
  if (!setup)
    return GST_WEBRTC_DTLS_SETUP_NONE;
  if (g_str_equal (setup, "actpass"))
    return GST_WEBRTC_DTLS_SETUP_ACTPASS;
  if (g_str_equal (setup, "active"))
    return GST_WEBRTC_DTLS_SETUP_ACTIVE;
  if (g_str_equal (setup, "passive"))
    return GST_WEBRTC_DTLS_SETUP_PASSIVE;
  return GST_WEBRTC_DTLS_SETUP_NONE;
}

GstWebRTCDTLSSetup
settled_dtls_role (const GstSDPMessage *local, const GstSDPMessage *remote,
    guint index)
{
  if (index >= gst_sdp_message_medias_len (local) ||
      index >= gst_sdp_message_medias_len (remote))
    return GST_WEBRTC_DTLS_SETUP_NONE;
  GstWebRTCDTLSSetup ours = dtls_setup_of (gst_sdp_message_get_media (local,
          index));
  GstWebRTCDTLSSetup theirs = dtls_setup_of (gst_sdp_message_get_media (remote,
          index));
  if (ours != GST_WEBRTC_DTLS_SETUP_ACTPASS)
    return ours;
  if (theirs == GST_WEBRTC_DTLS_SETUP_ACTIVE)
    return GST_WEBRTC_DTLS_SETUP_PASSIVE;
  if (theirs == GST_WEBRTC_DTLS_SETUP_PASSIVE)
    return GST_WEBRTC_DTLS_SETUP_ACTIVE;
  return GST_WEBRTC_DTLS_SETUP_NONE;
}

// webrtcbin answers every a=setup:actpass offer with active, even when an
// earlier negotiation made it the DTLS server (it offered, the peer chose
// active). Firefox re-offers with actpass on every renegotiation (Chromium
// offers the role it already has), so both ends became DTLS clients and the
// handshake failed. An answerer keeps the role in place (RFC 8842, 5.5).
void
keep_dtls_role (GstSDPMessage *answer, const GstSDPMessage *current_local,
    const GstSDPMessage *current_remote)
{
  if (!current_local || !current_remote)
    return;
  // New m-lines ride on the bundle's transport: the first m-line's role.
  GstWebRTCDTLSSetup bundle_role = settled_dtls_role (current_local,
      current_remote, 0);
  for (guint i = 0; i < gst_sdp_message_medias_len (answer); i++) {
    GstWebRTCDTLSSetup role = settled_dtls_role (current_local,
        current_remote, i);
    if (role == GST_WEBRTC_DTLS_SETUP_NONE)
      role = bundle_role;
    if (role == GST_WEBRTC_DTLS_SETUP_NONE)
      continue;
    GstSDPMedia *media = writable_media (answer, i);
    for (guint a = 0; a < gst_sdp_media_attributes_len (media); a++) {
      if (g_strcmp0 (gst_sdp_media_get_attribute (media, a)->key,
              "setup") != 0)
        continue;
      replace_media_attribute (media, a, "setup",
          role == GST_WEBRTC_DTLS_SETUP_ACTIVE ? "active" : "passive");
      break;
    }
  }
}

// An m-line the offer rejects (port 0, not bundle-only: Firefox re-offers so
// a media it refused before) must be rejected in the answer too, but
// webrtcbin answers it as an inactive member of the bundle without
// a=rtcp-mux, and Firefox refuses that answer ("missing a=rtcp-mux, which is
// required by rtcpMuxPolicy"): its renegotiation failed. Reject it in
// the answer and leave it out of the bundle.
void
reject_what_the_offer_rejected (GstSDPMessage *answer,
    const GstSDPMessage *offer)
{
  std::vector<std::string> rejected_mids;
  for (guint i = 0; i < gst_sdp_message_medias_len (answer) &&
      i < gst_sdp_message_medias_len (offer); i++) {
    const GstSDPMedia *theirs = gst_sdp_message_get_media (offer, i);
    if (gst_sdp_media_get_port (theirs) != 0 ||
        sdp_media_has_attribute (theirs, "bundle-only"))
      continue;
    GstSDPMedia *ours = writable_media (answer, i);
    gst_sdp_media_set_port_info (ours, 0, 0);
    if (!sdp_media_has_attribute (ours, "rtcp-mux"))
      gst_sdp_media_add_attribute (ours, "rtcp-mux", "");
    if (const char *mid = gst_sdp_media_get_attribute_val (ours, "mid"))
      rejected_mids.push_back (mid);
  }
  if (rejected_mids.empty ())
    return;
  for (guint a = 0; a < gst_sdp_message_attributes_len (answer); a++) {
    const GstSDPAttribute *attr = gst_sdp_message_get_attribute (answer, a);
    if (g_strcmp0 (attr->key, "group") != 0 || !attr->value ||
        !g_str_has_prefix (attr->value, "BUNDLE"))
      continue;
    g_auto (GStrv) words = g_strsplit (attr->value, " ", -1);
    std::string group;
    for (char **w = words; *w; w++)
      if (std::find (rejected_mids.begin (), rejected_mids.end (), *w) ==
          rejected_mids.end ())
        group += (group.empty () ? "" : " ") + std::string (*w);
    GstSDPAttribute kept = { nullptr, nullptr };
    gst_sdp_attribute_set (&kept, "group", group.c_str ());
    gst_sdp_message_replace_attribute (answer, a, &kept);
  }
}

// A member that receives nothing answers inactive (sendonly where it
// sends): webrtcbin answers the m-lines it has no input for recvonly, and
// the peer would send media that is only dropped here.
void
refuse_receiving (GstSDPMessage *answer)
{
  for (guint i = 0; i < gst_sdp_message_medias_len (answer); i++) {
    GstSDPMedia *media = writable_media (answer, i);
    for (guint a = 0; a < gst_sdp_media_attributes_len (media); a++) {
      const char *key = gst_sdp_media_get_attribute (media, a)->key;
      const char *now = g_strcmp0 (key, "recvonly") == 0 ? "inactive" :
          g_strcmp0 (key, "sendrecv") == 0 ? "sendonly" : nullptr;
      if (!now)
        continue;
      replace_media_attribute (media, a, now, "");
      break;
    }
  }
}

std::string
codec_names (const GstSDPMedia *media)
{
  std::string names;
  for (guint a = 0; a < gst_sdp_media_attributes_len (media); a++) {
    const GstSDPAttribute *attr = gst_sdp_media_get_attribute (media, a);
    const char *name = g_strcmp0 (attr->key, "rtpmap") == 0 && attr->value ?
        strchr (attr->value, ' ') : nullptr;     // "96 H264/90000"
    if (!name)
      continue;
    std::string codec (name + 1, strcspn (name + 1, "/"));
    // Retransmission and error correction formats are not codecs.
    if (g_ascii_strcasecmp (codec.c_str (), "rtx") == 0 ||
        g_ascii_strcasecmp (codec.c_str (), "red") == 0 ||
        g_ascii_strcasecmp (codec.c_str (), "ulpfec") == 0)
      continue;
    if (names.find (codec) == std::string::npos)
      names += (names.empty () ? "" : ", ") + codec;
  }
  return names;
}

// A peer that decodes none of the codecs we offer for a media rejects its
// m-line (port 0); Firefox does so for H.264 where it has no OpenH264.
// Nothing shows up there on its side, so the session names the media and
// codecs.
std::vector<RefusedMedia>
refused_media (const GstSDPMessage *offer, const GstSDPMessage *answer)
{
  std::vector<RefusedMedia> refused;
  for (guint i = 0; i < gst_sdp_message_medias_len (answer) &&
      i < gst_sdp_message_medias_len (offer); i++) {
    if (gst_sdp_media_get_port (gst_sdp_message_get_media (answer, i)) != 0)
      continue;
    const GstSDPMedia *ours = gst_sdp_message_get_media (offer, i);
    if (gst_sdp_media_get_port (ours) == 0 &&
        !sdp_media_has_attribute (ours, "bundle-only"))
      continue;     // we rejected it ourselves
    refused.push_back ({i, GST_STR_NULL (gst_sdp_media_get_media (ours)),
            codec_names (ours)});
  }
  return refused;
}

const GstSDPMedia *
nth_media (const GstSDPMessage *sdp, const char *media, guint nth)
{
  guint seen = 0;
  for (guint i = 0; i < gst_sdp_message_medias_len (sdp); i++) {
    const GstSDPMedia *m = gst_sdp_message_get_media (sdp, i);
    if (g_strcmp0 (gst_sdp_media_get_media (m), media) == 0 && seen++ == nth)
      return m;
  }
  return nullptr;
}

int
payload_type_of (const GstSDPMedia *media, const char *encoding_name)
{
  for (guint j = 0; j < gst_sdp_media_attributes_len (media); j++) {
    const GstSDPAttribute *a = gst_sdp_media_get_attribute (media, j);
    if (g_strcmp0 (a->key, "rtpmap") != 0 || !a->value)
      continue;
    int pt = -1;
    char name[32] = "";
    if (sscanf (a->value, "%d %31[^/]", &pt, name) == 2 &&
        g_ascii_strcasecmp (name, encoding_name) == 0)
      return pt;
  }
  return -1;
}

bool
media_receives (const GstSDPMedia *media)
{
  return !sdp_media_has_attribute (media, "sendonly") &&
      !sdp_media_has_attribute (media, "inactive");
}

}  // namespace p2pcall
