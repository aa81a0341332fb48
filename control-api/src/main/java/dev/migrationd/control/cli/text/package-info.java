/**
 * How values look on the command line and the terminal: {@link dev.migrationd.control.cli.text.Units} parses and
 * prints sizes, rates, durations and percentages; {@link dev.migrationd.control.cli.text.Converters} are picocli's
 * converters for them and for the API's enums; {@link dev.migrationd.control.cli.text.Render} shows API messages
 * as text or JSON; {@link dev.migrationd.control.cli.text.Json} writes plain maps and lists as JSON.
 */
package dev.migrationd.control.cli.text;
