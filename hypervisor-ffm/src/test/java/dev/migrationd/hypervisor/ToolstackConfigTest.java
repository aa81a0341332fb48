package dev.migrationd.hypervisor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** The bounds and shape checks a toolstack configuration from a peer passes before libxl parses it. */
class ToolstackConfigTest {

    /** The shape of what libxl_domain_config_to_json gives for the lab's PVH guest (abridged). */
    static final String LIBXL_PVH = """
            {
                "c_info": {
                    "type": "pvh",
                    "name": "gpvh",
                    "uuid": "5b4b8a8a-6a55-4a1e-9a3e-3f1d3c2b1a09",
                    "run_hotplug_scripts": "True"
                },
                "b_info": {
                    "max_vcpus": 1,
                    "avail_vcpus": [0],
                    "max_memkb": 131072,
                    "target_memkb": 131072,
                    "tsc_mode": "native",
                    "kernel": "/lab/guest/vmlinuz",
                    "cmdline": "console=hvc0 \\"quoted\\" {not a brace}",
                    "type.pvh": {}
                },
                "on_reboot": "restart"
            }
            """;

    @Test
    void acceptsLibxlsJson() {
        assertNull(ToolstackConfig.problem(LIBXL_PVH));
        assertEquals(LIBXL_PVH, new ToolstackConfig(LIBXL_PVH).json());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "''                         | is empty",
        "'   '                      | is empty",
        "'[1, 2]'                   | is not a JSON object",
        "'\"name\"'                 | is not a JSON object",
        "'{\"a\": 1'                | ends inside 1 open bracket",
        "'{\"a\": \"1}'             | ends inside a string",
        "'{\"a\": [1}'              | unbalanced '}'",
        "'{\"a\": 1}}'              | data after its closing brace",
        "'{\"a\": 1} {\"b\": 2}'    | data after its closing brace",
        "'{\"a\": 1} x'             | data after its closing brace",
    })
    void refusesWhatIsNotOneJsonObject(String json, String problem) {
        String p = ToolstackConfig.problem(json);
        assertNotNull(p, json);
        assertTrue(p.contains(problem), p);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new ToolstackConfig(json));
        assertTrue(e.getMessage().startsWith("toolstack configuration "), e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(chars = {'\0', '\u0001', '\u001b', '\u007f'})
    void refusesControlCharactersButWhitespace(char c) {
        String json = "{\"a\": \"x" + c + "\"}";
        if (c == '\u007f') {
            assertNull(ToolstackConfig.problem(json), "DEL is not a C0 control character");
        } else {
            assertTrue(ToolstackConfig.problem(json).contains("control character"), ToolstackConfig.problem(json));
        }
        assertNull(ToolstackConfig.problem("{\t\"a\":\r\n1}"));
    }

    @Test
    void boundsSizeInUtf8BytesAndNesting() {
        String pad = "x".repeat(ToolstackConfig.MAX_BYTES - "{\"a\": \"\"}".length());
        assertNull(ToolstackConfig.problem("{\"a\": \"" + pad + "\"}"), "exactly the limit");
        assertTrue(ToolstackConfig.problem("{\"a\": \"" + pad + "x\"}").contains("exceeds the limit of " + ToolstackConfig.MAX_BYTES));
        String wide = "é".repeat(ToolstackConfig.MAX_BYTES / 2); // two bytes each in UTF-8
        assertTrue(ToolstackConfig.problem("{\"a\": \"" + wide + "\"}").contains("exceeds"), "counted in bytes, not chars");

        String deepOk = "{\"a\": " + "[".repeat(ToolstackConfig.MAX_DEPTH - 1) + "]".repeat(ToolstackConfig.MAX_DEPTH - 1) + "}";
        assertNull(ToolstackConfig.problem(deepOk));
        String tooDeep = "{\"a\": " + "[".repeat(ToolstackConfig.MAX_DEPTH) + "]".repeat(ToolstackConfig.MAX_DEPTH) + "}";
        assertTrue(ToolstackConfig.problem(tooDeep).contains("nests deeper than " + ToolstackConfig.MAX_DEPTH));
    }

    @Test
    void bracketsInsideStringsAndEscapedQuotesDoNotCount() {
        assertNull(ToolstackConfig.problem("{\"a\": \"}]{[\", \"b\": \"\\\"}\"}"));
        assertNotNull(ToolstackConfig.problem("{\"a\": \"\\\"}"), "the escaped quote does not close the string");
    }

    @Test
    void aFieldOfAnObjectIsLookedUpAsLibxlWritesItAndAnythingElseIsEmpty() {
        ToolstackConfig c = new ToolstackConfig("""
                {
                    "c_info": {
                        "type": "pvh",
                        "name": "g\\u00e9 \\"q\\"",
                        "uuid": "6b0c2c9e-3d1f-4c53-9d6e-0a0e58a3c101",
                        "xsdata": {"a": [1, {"uuid": "not this"}], "b": null}
                    },
                    "b_info": {
                        "max_vcpus": 2,
                        "avail_vcpus": [0, 1],
                        "type.pvh": {}
                    }
                }
                """);
        assertEquals(java.util.Optional.of("pvh"), c.string("c_info", "type"));
        assertEquals(java.util.Optional.of("g\u00e9 \"q\""), c.string("c_info", "name"), "escapes decoded");
        assertEquals(java.util.Optional.of("6b0c2c9e-3d1f-4c53-9d6e-0a0e58a3c101"), c.string("c_info", "uuid"));
        assertEquals(java.util.Optional.empty(), c.string("b_info", "max_vcpus"), "a number is not a string");
        assertEquals(java.util.Optional.empty(), c.string("b_info", "uuid"));
        assertEquals(java.util.Optional.empty(), c.string("d_info", "uuid"));
        assertEquals(java.util.Optional.empty(), new ToolstackConfig("{\"c_info\": [\"uuid\"]}").string("c_info", "uuid"));
    }
}
