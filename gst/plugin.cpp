#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstp2pcallsink.h"
#include "gstp2pcallsrc.h"

static gboolean
plugin_init (GstPlugin * plugin)
{
  gboolean ok = gst_element_register (plugin, "p2pcallsink", GST_RANK_NONE,
      GST_TYPE_P2PCALL_SINK);
  ok &= gst_element_register (plugin, "p2pcallsrc", GST_RANK_NONE,
      GST_TYPE_P2PCALL_SRC);
  return ok;
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, p2pcall,
    "Join p2pcall rooms: peer-to-peer calls with browsers and other pipelines",
    plugin_init, P2PCALL_VERSION, "MIT/X11", "p2pcall", P2PCALL_ORIGIN)
