package dev.migrationd.daemon.engine;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.Test;

/** DESIGN.md: the engine imports nothing from Netty, gRPC or Micrometer, nor any concrete hypervisor adapter. */
class EngineArchitectureTest {

    private static final JavaClasses ENGINE = new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages("dev.migrationd.daemon.engine");

    @Test
    void engineImportsNoTransportMetricsOrAdapter() {
        noClasses().that().resideInAPackage("dev.migrationd.daemon.engine..")
                .should().dependOnClassesThat().resideInAnyPackage(
                        "io.netty..", "io.grpc..", "io.micrometer..", "com.google.protobuf..",
                        "dev.migrationd.hypervisor.sim..", "dev.migrationd.hypervisor.xen..",
                        "dev.migrationd.hypervisor.kvm..", "dev.migrationd.daemon.transport..")
                .because("the engine talks to the network and the hypervisor only through its ports")
                .check(ENGINE);
    }

    @Test
    void theRuleSeesTheEngineClasses() {
        // guards against the rule passing vacuously because nothing was imported
        org.junit.jupiter.api.Assertions.assertTrue(ENGINE.contain(MigrationEngine.class));
    }
}
