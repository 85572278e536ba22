// Transport-wide congestion control (the RTP header extension and its
// RTCP feedback) in the SDP both elements negotiate: p2pcallsink's adaptive
// mode reads the feedback, p2pcallsrc gives it.
#pragma once

#include <gst/gst.h>
#include <gst/sdp/sdp.h>

namespace p2pcall {

constexpr const char kTransportCcUri[] =
    "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01";
// The extension id our offers give it.
constexpr int kTransportCcOfferId = 1;

// The extension id @media gives transport-wide CC, -1 if it has none.
int transport_cc_id (const GstSDPMedia * media);

// Makes @caps (one RTP format) carry transport-wide CC with @id: the
// extension and the feedback, as webrtcbin writes them into the SDP.
void add_transport_cc_to_caps (GstCaps * caps, int id);

// What a receiving transceiver answers @media with: the offered formats,
// and transport-wide CC when the offer has it, so that the offerer gets the
// feedback (webrtcbin 1.22 answers with the offered formats alone and
// leaves header extensions out). nullptr when @media is not audio or video.
GstCaps *receive_caps_for_offer (const GstSDPMedia * media);

}  // namespace p2pcall
