/**
 * Test support shared with other modules through the protocol test-jar: stream fixtures
 * ({@link dev.migrationd.protocol.testing.LegacyFixtures}), random legacy streams that Xen's tools accept
 * ({@link dev.migrationd.protocol.testing.RandomLegacyStream}) and runners for Xen's own stream tools as oracles
 * ({@link dev.migrationd.protocol.testing.XenTools}, {@link dev.migrationd.protocol.testing.XenV2Tools}).
 */
package dev.migrationd.protocol.testing;
