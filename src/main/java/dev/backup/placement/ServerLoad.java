package dev.backup.placement;

/**
 * What the manager knows of one storage server: where it is and its last load report.
 *
 * @param latencyMicros round-trip time of its last load report
 */
public record ServerLoad(int id, String host, int port, boolean alive, long bytes, long files,
                         long freeBytes, int transfers, long latencyMicros) {
}
