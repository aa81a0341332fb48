/**
 * The peer transport: one TCP connection per migration (Netty 4.2, epoll where available, NIO otherwise)
 * carrying length-prefixed frames — protobuf hand-over envelopes ({@code peer.proto}) and stream-data
 * frames with the raw Xen save-stream bytes between them.
 *
 * <p>Pipeline: {@link dev.migrationd.daemon.transport.PeerFrameDecoder} (framing only, poison state) →
 * {@link dev.migrationd.daemon.transport.PeerFrameEncoder} → {@link dev.migrationd.daemon.transport.NettyPeerConnection}
 * (the protocol: parses envelopes, hands items to the migration's virtual thread, backpressure both ways).
 * Event loops own the pipelines; migration threads own the sending side of their connection.
 */
package dev.migrationd.daemon.transport;
