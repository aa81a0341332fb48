package dev.migrationd.daemon.engine;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import dev.migrationd.daemon.engine.handover.OutgoingMigration;
import dev.migrationd.daemon.engine.stream.SourceStream;
import dev.migrationd.protocol.StreamLimits;
import org.junit.jupiter.api.Test;

/**
 * The shape of the engine and of the stream library under it: the engine talks to the network, the metrics
 * and the hypervisor only through its ports; its sub-packages depend on each other without cycles and never
 * on the facade above them; the rest of the daemon uses only the engine's public packages; and
 * {@code protocol} needs nothing but the JDK.
 */
class EngineArchitectureTest {

    private static final JavaClasses DAEMON = new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .withImportOption(location -> !location.contains("/daemon/transport/proto/")) // generated from peer.proto
            .importPackages("dev.migrationd.daemon");

    /** The protocol module's own classes: its jar (or classes directory), not its test jar, which tests use. */
    private static final JavaClasses PROTOCOL = new ClassFileImporter()
            .importUrl(StreamLimits.class.getProtectionDomain().getCodeSource().getLocation());

    @Test
    void engineImportsNoTransportMetricsOrAdapter() {
        noClasses().that().resideInAPackage("dev.migrationd.daemon.engine..")
                .should().dependOnClassesThat().resideInAnyPackage(
                        "io.netty..", "io.grpc..", "io.micrometer..", "com.google.protobuf..",
                        "dev.migrationd.hypervisor.sim..", "dev.migrationd.hypervisor.xen..",
                        "dev.migrationd.hypervisor.kvm..", "dev.migrationd.daemon.transport..",
                        "dev.migrationd.daemon.control..", "dev.migrationd.daemon.metrics..")
                .because("the engine talks to the network and the hypervisor only through its ports")
                .check(DAEMON);
    }

    @Test
    void engineSubPackagesAreFreeOfCycles() {
        slices().matching("dev.migrationd.daemon.engine.(*)..").should().beFreeOfCycles().check(DAEMON);
    }

    @Test
    void theFacadeIsOnTop() {
        noClasses().that().resideInAPackage("dev.migrationd.daemon.engine.*..")
                .should().dependOnClassesThat().resideInAPackage("dev.migrationd.daemon.engine")
                .because("the facade, its configuration, registry, admission and recovery use the sub-packages,"
                        + " never the other way round")
                .check(DAEMON);
    }

    @Test
    void theRestOfTheDaemonUsesOnlyTheEnginesPublicPackages() {
        noClasses().that().resideInAPackage("dev.migrationd.daemon..")
                .and().resideOutsideOfPackage("dev.migrationd.daemon.engine..")
                .should().dependOnClassesThat().resideInAnyPackage("dev.migrationd.daemon.engine.handover..",
                        "dev.migrationd.daemon.engine.journal..", "dev.migrationd.daemon.engine.precopy..",
                        "dev.migrationd.daemon.engine.stream..", "dev.migrationd.daemon.engine.guest..")
                .because("transport, control, metrics and the daemon see the facade (engine), a migration (run),"
                        + " the peer port (peer) and save files (file); the rest is the engine's inside")
                .check(DAEMON);
    }

    @Test
    void protocolDependsOnNothingButTheJdk() {
        classes().that().resideInAPackage("dev.migrationd.protocol..")
                .should().onlyDependOnClassesThat().resideInAnyPackage("dev.migrationd.protocol..", "java..")
                .because("the stream library is reused by the CLI, the benchmarks and the tests, and must not"
                        + " drag anything with it")
                .check(PROTOCOL);
    }

    @Test
    void theRulesSeeTheClassesTheyGuard() {
        // guards against a rule passing vacuously because nothing was imported
        assertTrue(DAEMON.contain(MigrationEngine.class));
        assertTrue(DAEMON.contain(OutgoingMigration.class));
        assertTrue(DAEMON.contain(SourceStream.class));
        assertTrue(PROTOCOL.contain(StreamLimits.class));
    }
}
