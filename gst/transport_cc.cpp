#include "transport_cc.h"

#include <cstdio>
#include <cstdlib>

namespace p2pcall {

int
transport_cc_id (const GstSDPMedia *media)
{
  for (guint i = 0; i < gst_sdp_media_attributes_len (media); i++) {
    const GstSDPAttribute *a = gst_sdp_media_get_attribute (media, i);
    int id = -1;
    char uri[256] = "";
    if (g_strcmp0 (a->key, "extmap") == 0 && a->value &&
        sscanf (a->value, "%d %255s", &id, uri) == 2 &&
        g_str_equal (uri, kTransportCcUri))
      return id;
  }
  return -1;
}

void
add_transport_cc_to_caps (GstCaps *caps, int id)
{
  g_autofree char *field = g_strdup_printf ("extmap-%d", id);
  for (guint i = 0; i < gst_caps_get_size (caps); i++)
    gst_structure_set (gst_caps_get_structure (caps, i),
        field, G_TYPE_STRING, kTransportCcUri,
        "rtcp-fb-transport-cc", G_TYPE_BOOLEAN, TRUE, nullptr);
}

GstCaps *
receive_caps_for_offer (const GstSDPMedia *media)
{
  const char *kind = gst_sdp_media_get_media (media);
  if (g_strcmp0 (kind, "audio") != 0 && g_strcmp0 (kind, "video") != 0)
    return nullptr;
  int id = transport_cc_id (media);
  GstCaps *caps = gst_caps_new_empty ();
  for (guint i = 0; i < gst_sdp_media_formats_len (media); i++) {
    int pt = atoi (gst_sdp_media_get_format (media, i));
    GstCaps *format = gst_sdp_media_get_caps_from_media (media, pt);
    if (!format)
      continue;
    // Named as webrtcbin names an offer's formats, to intersect with them.
    format = gst_caps_make_writable (format);
    GstStructure *s = gst_caps_get_structure (format, 0);
    gst_structure_set_name (s, "application/x-rtp");
    if (id >= 0) {
      g_autofree char *field = g_strdup_printf ("extmap-%d", id);
      gst_structure_set (s, field, G_TYPE_STRING, kTransportCcUri, nullptr);
    }
    gst_caps_append (caps, format);
  }
  return caps;
}

}  // namespace p2pcall
