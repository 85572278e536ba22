#include "dtls_certificate.h"

#include <gst/gst.h>

#include <condition_variable>
#include <mutex>

namespace p2pcall {

namespace {

std::mutex lock;
std::condition_variable finished;
bool started = false;           // guarded by lock
bool generating = false;        // guarded by lock

gpointer
generate (gpointer)
{
  // Creating a dtlsdec is what makes the certificate (and caches it).
  GstElement *dtls = gst_element_factory_make ("dtlsdec", nullptr);
  if (dtls)
    gst_object_unref (gst_object_ref_sink (dtls));
  std::lock_guard<std::mutex> guard (lock);
  generating = false;
  finished.notify_all ();
  return nullptr;
}

}  // namespace

void
prepare_dtls_certificate ()
{
  std::lock_guard<std::mutex> guard (lock);
  if (started)
    return;
  started = true;
  GThread *thread = g_thread_try_new ("p2pcall-dtls-cert", generate, nullptr,
      nullptr);
  if (thread) {
    generating = true;
    g_thread_unref (thread);
  }
}

void
wait_dtls_certificate ()
{
  std::unique_lock<std::mutex> guard (lock);
  finished.wait (guard, [] { return !generating; });
}

}  // namespace p2pcall
