#pragma once
// gRPC shuts itself down when its last channel or server goes, on a thread of its own; a
// process that returns from main meanwhile races that thread (ASan saw a double free in
// grpc_cq_internal_unref at exit). The transport holds one library reference from its first
// use, and the process drops it with a blocking shutdown before it exits. A process that never
// speaks gRPC never starts gRPC's threads.
namespace chord::grpc_transport {

void hold_library();     // on first use: grpc_init(), once
void release_library();  // at exit: grpc_shutdown_blocking() if held

}  // namespace chord::grpc_transport
