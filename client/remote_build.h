// `crossfarm --remote URL build` and `crossfarm status`: the client side of the
// scheduler protocol (docs/protocol.md "Scheduler protocol").
//
// A remote build asks the scheduler for its CAS, checks which artifacts the CAS
// already holds, uploads the sources of the others, submits them as one DAG
// (inputs produced by the DAG itself are left for the scheduler to fill in),
// and follows the build: job updates drive the same Progress display as the
// embedded build, with worker names; a failure prints the tail of its log
// from the CAS. Updates are idempotent snapshots, so a scheduler restart costs
// nothing: the client keeps watching (and resubmits if the build is unknown).
// Ctrl-C cancels the build's jobs on the cluster.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cas/cas.h"
#include "client/command.h"
#include "client/local_build.h"
#include "client/transfer_progress.h"
#include "common/project.h"
#include "proto/scheduler_types.h"

namespace zmq {
class context_t;
class socket_t;
}  // namespace zmq

namespace crossfarm::client {

// A DEALER connection to crossfarm-scheduler with the client's CURVE keys
// (g.remote, g.remote_key, g.key). One thread uses it.
class SchedulerConnection {
 public:
  static Result<std::unique_ptr<SchedulerConnection>> Open(const GlobalOptions& g);
  ~SchedulerConnection();

  Status Send(const proto::SchedMessage& m);
  // The next message within `timeout` (nullopt: none). Undecodable ones are skipped.
  Result<std::optional<proto::SchedMessage>> Receive(std::chrono::milliseconds timeout);
  // Sends a status request and waits for the reply (Unavailable after `timeout`).
  Result<proto::StatusReply> QueryStatus(std::chrono::milliseconds timeout);

 private:
  SchedulerConnection() = default;
  std::unique_ptr<zmq::context_t> context_;
  std::unique_ptr<zmq::socket_t> socket_;
  std::string endpoint_;
};

// Builds the targets of `builds` (one project per arch of `--arch a,b,c`) on the
// cluster named by g.remote, as one submission.
// The cluster's CAS, as the scheduler announces it, opened with the client's
// key: `checkout` and `log` with --remote read artifacts from there.
// `transfers`, when given, counts the bytes of every CAS call (progress).
Result<std::unique_ptr<cas::Cas>> OpenClusterCas(const GlobalOptions& g, SchedulerConnection& conn,
                                                 std::shared_ptr<TransferStats> transfers = nullptr);
Result<std::unique_ptr<cas::Cas>> OpenClusterCas(const GlobalOptions& g,
                                                 std::shared_ptr<TransferStats> transfers = nullptr);

Result<BuildSummary> BuildRemotely(const std::vector<ProjectTargets>& builds, const GlobalOptions& g,
                                   const BuildSettings& settings);

// Text of `crossfarm status`: workers, then queued jobs with their reasons.
std::string FormatStatus(const proto::StatusReply& status);

}  // namespace crossfarm::client
