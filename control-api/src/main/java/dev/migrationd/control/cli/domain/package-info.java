/**
 * Domains on the daemon's host: {@code domains} lists them; {@code domain create|destroy|inspect} manage the sim
 * backend's simulated domains (other backends refuse).
 */
package dev.migrationd.control.cli.domain;
