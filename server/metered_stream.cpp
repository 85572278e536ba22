#include "metered_stream.h"

using p2pcall::server::StreamMeter;
using MeterPtr = std::shared_ptr<StreamMeter>;

namespace {

void
count_read (const MeterPtr &meter, gssize n)
{
  if (n <= 0)
    return;
  if (meter->unmarked () == 0)
    meter->unit_started_us = g_get_monotonic_time ();
  meter->read_total += n;
  meter->last_read_us = g_get_monotonic_time ();
  if (!meter->over && meter->unmarked () > meter->allowance) {
    meter->over = true;
    // Not from inside libsoup's read: it may close the connection.
    g_idle_add_full (G_PRIORITY_DEFAULT, +[] (gpointer p) -> gboolean {
          auto *m = static_cast<MeterPtr *> (p);
          // A copy: the call may replace the meter's own.
          std::function<void ()> over = (*m)->on_over;
          if (over && !(*m)->closed)
            over ();
          return G_SOURCE_REMOVE;
        }, new MeterPtr (meter), +[] (gpointer p) {
          delete static_cast<MeterPtr *> (p);
        });
  }
}

void
note_closed (const MeterPtr &meter)
{
  if (meter->closed)
    return;
  meter->closed = true;
  std::function<void ()> closed = meter->on_closed;
  if (closed)
    closed ();
}

}  // namespace

// --- input ---

#define METERED_TYPE_INPUT (metered_input_get_type ())
G_DECLARE_FINAL_TYPE (MeteredInput, metered_input, METERED, INPUT,
    GInputStream)

struct _MeteredInput {
  GInputStream parent;
  GInputStream *base;
  MeterPtr *meter;
};

static void metered_input_pollable_init (GPollableInputStreamInterface * iface);

G_DEFINE_TYPE_WITH_CODE (MeteredInput, metered_input, G_TYPE_INPUT_STREAM,
    G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_INPUT_STREAM,
        metered_input_pollable_init))

static gssize
metered_input_read (GInputStream *stream, void *buffer, gsize count,
    GCancellable *cancellable, GError **error)
{
  MeteredInput *self = METERED_INPUT (stream);
  if ((*self->meter)->over) {
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
        "client sent more than its allowance");
    return -1;
  }
  gssize n = g_input_stream_read (self->base, buffer, count, cancellable,
      error);
  count_read (*self->meter, n);
  return n;
}

static gboolean
metered_input_close (GInputStream *, GCancellable *, GError **)
{
  return TRUE;                  // the GIOStream closes the base
}

static gboolean
metered_input_can_poll (GPollableInputStream *stream)
{
  return g_pollable_input_stream_can_poll (
      G_POLLABLE_INPUT_STREAM (METERED_INPUT (stream)->base));
}

static gboolean
metered_input_is_readable (GPollableInputStream *stream)
{
  MeteredInput *self = METERED_INPUT (stream);
  return !(*self->meter)->over && g_pollable_input_stream_is_readable (
      G_POLLABLE_INPUT_STREAM (self->base));
}

static GSource *
metered_input_create_source (GPollableInputStream *stream,
    GCancellable *cancellable)
{
  MeteredInput *self = METERED_INPUT (stream);
  // Over its allowance, the stream never becomes readable again.
  if ((*self->meter)->over)
    return g_pollable_source_new_full (stream, nullptr, cancellable);
  g_autoptr (GSource) base = g_pollable_input_stream_create_source (
      G_POLLABLE_INPUT_STREAM (self->base), nullptr);
  return g_pollable_source_new_full (stream, base, cancellable);
}

static gssize
metered_input_read_nonblocking (GPollableInputStream *stream, void *buffer,
    gsize count, GError **error)
{
  MeteredInput *self = METERED_INPUT (stream);
  if ((*self->meter)->over) {
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK,
        "client is over its allowance");
    return -1;
  }
  gssize n = g_pollable_input_stream_read_nonblocking (
      G_POLLABLE_INPUT_STREAM (self->base), buffer, count, nullptr, error);
  count_read (*self->meter, n);
  return n;
}

static void
metered_input_pollable_init (GPollableInputStreamInterface *iface)
{
  iface->can_poll = metered_input_can_poll;
  iface->is_readable = metered_input_is_readable;
  iface->create_source = metered_input_create_source;
  iface->read_nonblocking = metered_input_read_nonblocking;
}

static void
metered_input_finalize (GObject *object)
{
  MeteredInput *self = METERED_INPUT (object);
  g_clear_object (&self->base);
  delete self->meter;
  G_OBJECT_CLASS (metered_input_parent_class)->finalize (object);
}

static void
metered_input_class_init (MeteredInputClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = metered_input_finalize;
  G_INPUT_STREAM_CLASS (klass)->read_fn = metered_input_read;
  G_INPUT_STREAM_CLASS (klass)->close_fn = metered_input_close;
}

static void
metered_input_init (MeteredInput *)
{
}

// --- output ---

#define METERED_TYPE_OUTPUT (metered_output_get_type ())
G_DECLARE_FINAL_TYPE (MeteredOutput, metered_output, METERED, OUTPUT,
    GOutputStream)

struct _MeteredOutput {
  GOutputStream parent;
  GOutputStream *base;
  MeterPtr *meter;
};

static void metered_output_pollable_init (GPollableOutputStreamInterface * iface);

G_DEFINE_TYPE_WITH_CODE (MeteredOutput, metered_output, G_TYPE_OUTPUT_STREAM,
    G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_OUTPUT_STREAM,
        metered_output_pollable_init))

static gssize
metered_output_write (GOutputStream *stream, const void *buffer, gsize count,
    GCancellable *cancellable, GError **error)
{
  MeteredOutput *self = METERED_OUTPUT (stream);
  gssize n = g_output_stream_write (self->base, buffer, count, cancellable,
      error);
  if (n > 0)
    (*self->meter)->written_total += n;
  return n;
}

static gboolean
metered_output_flush (GOutputStream *stream, GCancellable *cancellable,
    GError **error)
{
  return g_output_stream_flush (METERED_OUTPUT (stream)->base, cancellable,
      error);
}

static gboolean
metered_output_close (GOutputStream *, GCancellable *, GError **)
{
  return TRUE;                  // the GIOStream closes the base
}

static gboolean
metered_output_can_poll (GPollableOutputStream *stream)
{
  return g_pollable_output_stream_can_poll (
      G_POLLABLE_OUTPUT_STREAM (METERED_OUTPUT (stream)->base));
}

static gboolean
metered_output_is_writable (GPollableOutputStream *stream)
{
  return g_pollable_output_stream_is_writable (
      G_POLLABLE_OUTPUT_STREAM (METERED_OUTPUT (stream)->base));
}

static GSource *
metered_output_create_source (GPollableOutputStream *stream,
    GCancellable *cancellable)
{
  g_autoptr (GSource) base = g_pollable_output_stream_create_source (
      G_POLLABLE_OUTPUT_STREAM (METERED_OUTPUT (stream)->base), nullptr);
  return g_pollable_source_new_full (stream, base, cancellable);
}

static gssize
metered_output_write_nonblocking (GPollableOutputStream *stream,
    const void *buffer, gsize count, GError **error)
{
  MeteredOutput *self = METERED_OUTPUT (stream);
  gssize n = g_pollable_output_stream_write_nonblocking (
      G_POLLABLE_OUTPUT_STREAM (self->base), buffer, count, nullptr, error);
  if (n > 0)
    (*self->meter)->written_total += n;
  return n;
}

static void
metered_output_pollable_init (GPollableOutputStreamInterface *iface)
{
  iface->can_poll = metered_output_can_poll;
  iface->is_writable = metered_output_is_writable;
  iface->create_source = metered_output_create_source;
  iface->write_nonblocking = metered_output_write_nonblocking;
}

static void
metered_output_finalize (GObject *object)
{
  MeteredOutput *self = METERED_OUTPUT (object);
  g_clear_object (&self->base);
  delete self->meter;
  G_OBJECT_CLASS (metered_output_parent_class)->finalize (object);
}

static void
metered_output_class_init (MeteredOutputClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = metered_output_finalize;
  G_OUTPUT_STREAM_CLASS (klass)->write_fn = metered_output_write;
  G_OUTPUT_STREAM_CLASS (klass)->flush = metered_output_flush;
  G_OUTPUT_STREAM_CLASS (klass)->close_fn = metered_output_close;
}

static void
metered_output_init (MeteredOutput *)
{
}

// --- the GIOStream ---

struct _P2pcallMeteredStream {
  GIOStream parent;
  GIOStream *base;
  MeteredInput *input;
  MeteredOutput *output;
  MeterPtr *meter;
};

G_DEFINE_TYPE (P2pcallMeteredStream, p2pcall_metered_stream, G_TYPE_IO_STREAM)

static GInputStream *
metered_stream_get_input (GIOStream *stream)
{
  return G_INPUT_STREAM (P2PCALL_METERED_STREAM (stream)->input);
}

static GOutputStream *
metered_stream_get_output (GIOStream *stream)
{
  return G_OUTPUT_STREAM (P2PCALL_METERED_STREAM (stream)->output);
}

static gboolean
metered_stream_close (GIOStream *stream, GCancellable *cancellable,
    GError **error)
{
  P2pcallMeteredStream *self = P2PCALL_METERED_STREAM (stream);
  note_closed (*self->meter);
  return g_io_stream_close (self->base, cancellable, error);
}

// GIOStream's own async close runs close_fn in a thread; the base (a socket
// or TLS connection) closes asynchronously by itself.
static void
metered_stream_close_async (GIOStream *stream, int priority,
    GCancellable *cancellable, GAsyncReadyCallback callback, gpointer data)
{
  P2pcallMeteredStream *self = P2PCALL_METERED_STREAM (stream);
  note_closed (*self->meter);
  GTask *task = g_task_new (stream, cancellable, callback, data);
  g_io_stream_close_async (self->base, priority, cancellable,
      +[] (GObject *base, GAsyncResult *res, gpointer p) {
        GTask *t = G_TASK (p);
        GError *err = nullptr;
        if (g_io_stream_close_finish (G_IO_STREAM (base), res, &err))
          g_task_return_boolean (t, TRUE);
        else
          g_task_return_error (t, err);
        g_object_unref (t);
      }, task);
}

static gboolean
metered_stream_close_finish (GIOStream *, GAsyncResult *result,
    GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
p2pcall_metered_stream_finalize (GObject *object)
{
  P2pcallMeteredStream *self = P2PCALL_METERED_STREAM (object);
  g_clear_object (&self->input);
  g_clear_object (&self->output);
  g_clear_object (&self->base);
  delete self->meter;
  G_OBJECT_CLASS (p2pcall_metered_stream_parent_class)->finalize (object);
}

static void
p2pcall_metered_stream_class_init (P2pcallMeteredStreamClass *klass)
{
  GIOStreamClass *io = G_IO_STREAM_CLASS (klass);
  G_OBJECT_CLASS (klass)->finalize = p2pcall_metered_stream_finalize;
  io->get_input_stream = metered_stream_get_input;
  io->get_output_stream = metered_stream_get_output;
  io->close_fn = metered_stream_close;
  io->close_async = metered_stream_close_async;
  io->close_finish = metered_stream_close_finish;
}

static void
p2pcall_metered_stream_init (P2pcallMeteredStream *)
{
}

P2pcallMeteredStream *
p2pcall_metered_stream_new (GIOStream *base)
{
  auto *self = P2PCALL_METERED_STREAM (g_object_new (
          P2PCALL_TYPE_METERED_STREAM, nullptr));
  MeterPtr meter = std::make_shared<StreamMeter> ();
  meter->last_read_us = g_get_monotonic_time ();
  self->base = G_IO_STREAM (g_object_ref (base));
  self->meter = new MeterPtr (meter);
  self->input = METERED_INPUT (g_object_new (METERED_TYPE_INPUT, nullptr));
  self->input->base = G_INPUT_STREAM (g_object_ref (
          g_io_stream_get_input_stream (base)));
  self->input->meter = new MeterPtr (meter);
  self->output = METERED_OUTPUT (g_object_new (METERED_TYPE_OUTPUT, nullptr));
  self->output->base = G_OUTPUT_STREAM (g_object_ref (
          g_io_stream_get_output_stream (base)));
  self->output->meter = new MeterPtr (meter);
  return self;
}

std::shared_ptr<StreamMeter>
p2pcall_metered_stream_get_meter (P2pcallMeteredStream *stream)
{
  return *stream->meter;
}

GIOStream *
p2pcall_metered_stream_get_base (P2pcallMeteredStream *stream)
{
  return stream->base;
}
