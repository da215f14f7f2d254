package dev.backup.config;

import dev.backup.protocol.BackupException;
import dev.backup.protocol.ErrorCode;
import io.vertx.core.eventbus.EventBusOptions;
import io.vertx.core.http.ClientAuth;
import io.vertx.core.net.NetClientOptions;
import io.vertx.core.net.NetServerOptions;
import io.vertx.core.net.PemKeyCertOptions;
import io.vertx.core.net.PemTrustOptions;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * TLS on the system's TCP connections, from the PEM files of the configuration: the one
 * place that turns {@code tls}, {@code tls-cert}, {@code tls-key} and {@code tls-ca} into
 * Vert.x options. Servers (the manager's client port, each storage server's port) present
 * {@code tls-cert}; every client side trusts only {@code tls-ca} and checks that the
 * certificate names the host it connected to (the peer's {@code --host}, or the manager
 * given with {@code --manager}). With {@code tls} off the options are left as they are.
 */
public final class Tls {
  private Tls() {
  }

  /** Options of a listening socket: presents this element's certificate. */
  public static NetServerOptions server(Config c, NetServerOptions o) {
    if (c.tls()) {
      engine(o);
      o.setSsl(true).setKeyCertOptions(keyCert(c))
          .setSslHandshakeTimeout(handshakeTimeoutMs(c)).setSslHandshakeTimeoutUnit(TimeUnit.MILLISECONDS);
    }
    return o;
  }

  /** Options of a connecting socket: trusts tls-ca only, and checks the peer's name. */
  public static NetClientOptions client(Config c, NetClientOptions o) {
    if (c.tls()) {
      engine(o);
      o.setSsl(true).setTrustOptions(trust(c)).setHostnameVerificationAlgorithm("HTTPS")
          .setSslHandshakeTimeout(handshakeTimeoutMs(c)).setSslHandshakeTimeoutUnit(TimeUnit.MILLISECONDS);
    }
    return o;
  }

  /**
   * The clustered event bus between the manager and the servers: encrypted, and both ends
   * must show a certificate signed by tls-ca.
   */
  public static EventBusOptions eventBus(Config c, EventBusOptions o) {
    if (c.tls()) {
      engine(o);
      o.setSsl(true).setKeyCertOptions(keyCert(c)).setTrustOptions(trust(c)).setClientAuth(ClientAuth.REQUIRED)
          .setSslHandshakeTimeout(handshakeTimeoutMs(c)).setSslHandshakeTimeoutUnit(TimeUnit.MILLISECONDS);
    }
    return o;
  }

  /**
   * OpenSSL (BoringSSL, bundled for Linux x86-64) when it loads: it encrypts several times
   * faster than the JDK's engine. Elsewhere the JDK's engine is used.
   */
  private static void engine(io.vertx.core.net.TCPSSLOptions o) {
    if (OpenSsl.AVAILABLE) {
      o.setSslEngineOptions(new io.vertx.core.net.OpenSSLEngineOptions());
    }
  }

  /**
   * Whether OpenSSL loads, asked the first time TLS options are made: the probe unpacks
   * and loads a native library (about a third of a second of the main thread's start on
   * 2 cores), which an element or command without TLS never needs.
   */
  private static final class OpenSsl {
    static final boolean AVAILABLE = probe();

    private static boolean probe() {
      try {
        return io.vertx.core.net.OpenSSLEngineOptions.isAvailable();
      } catch (LinkageError e) {
        return false;
      }
    }
  }

  /** Which engine encrypts: for the start-up log. */
  public static String engineName() {
    return OpenSsl.AVAILABLE ? "OpenSSL" : "JDK";
  }

  /**
   * How long a TLS handshake may take before the connection fails: the connect timeout,
   * but not less than 10 s (a busy machine's first handshakes, which also load the keys,
   * can take seconds).
   */
  static long handshakeTimeoutMs(Config c) {
    return Math.max(c.connectTimeoutMs(), 10_000L);
  }

  private static PemKeyCertOptions keyCert(Config c) {
    return new PemKeyCertOptions().setCertPath(c.tlsCert().toAbsolutePath().toString())
        .setKeyPath(c.tlsKey().toAbsolutePath().toString());
  }

  private static PemTrustOptions trust(Config c) {
    return new PemTrustOptions().addCertPath(c.tlsCa().toAbsolutePath().toString());
  }

  /**
   * Checks, when TLS is on, that the files this element needs are set, readable and PEM:
   * tls-ca for every role, tls-cert and tls-key for the manager and the servers. Reads
   * the files: call it at start, not on an event loop.
   */
  public static void check(Config c) {
    if (!c.tls()) {
      return;
    }
    require("tls-ca", c.tlsCa(), "CERTIFICATE", "the certificate authority to trust");
    if (c.role() != Role.client) {
      require("tls-cert", c.tlsCert(), "CERTIFICATE", "this element's certificate");
      require("tls-key", c.tlsKey(), "PRIVATE KEY", "this element's private key");
    }
  }

  private static void require(String key, Path file, String pemType, String what) {
    if (file == null) {
      throw new BackupException(ErrorCode.USAGE, "tls is on but " + key + " is not set: give the PEM file of "
          + what + " (" + key + "=FILE in the configuration, or " + ConfigLoader.envName(key) + ")");
    }
    String text;
    try {
      text = SmallFiles.read(file, 1 << 20, StandardCharsets.ISO_8859_1);
    } catch (NoSuchFileException e) {
      throw new BackupException(ErrorCode.USAGE, key + ": no such file: " + file);
    } catch (IOException e) {
      throw new BackupException(ErrorCode.USAGE, key + ": cannot read " + file + ": " + e.getMessage());
    }
    if (!text.contains("-----BEGIN ") || !text.contains(pemType + "-----")) {
      throw new BackupException(ErrorCode.USAGE, key + ": " + file + " is not a PEM file of " + what
          + " (no '-----BEGIN ..." + pemType + "-----' line)");
    }
  }
}
