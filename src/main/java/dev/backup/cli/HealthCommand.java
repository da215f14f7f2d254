package dev.backup.cli;

import dev.backup.config.Config;
import dev.backup.config.Role;
import dev.backup.config.Tls;
import dev.backup.protocol.BackupException;
import dev.backup.protocol.ErrorCode;
import dev.backup.protocol.Frame;
import dev.backup.protocol.FrameDecoder;
import dev.backup.protocol.Op;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetClientOptions;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.ParentCommand;

/**
 * {@code backup.jar --role=manager|server ... health}: asks the element itself (at its own
 * host and port, from the same flags, environment and file, over TLS when it is on) whether
 * it is ready. Exit 0 when it answers; for container health checks.
 */
@Command(name = "health", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
    description = "Ask this element (manager or server, at its own --host/--port) whether it is ready.")
final class HealthCommand implements Callable<Integer> {
  private static final int TIMEOUT_MS = 3000;

  @ParentCommand
  Main main;

  @Override
  public Integer call() {
    Config c = main.config();
    if (c.role() == Role.client) {
      throw new BackupException(ErrorCode.USAGE, "health asks a manager or a server; give --role=manager or --role=server");
    }
    Vertx vertx = Vertx.vertx(dev.backup.config.VertxSetup.options());
    Throwable failure;
    try {
      NetClient client = vertx.createNetClient(Tls.client(c, new NetClientOptions()
          .setConnectTimeout(TIMEOUT_MS).setIdleTimeout(TIMEOUT_MS)
          .setIdleTimeoutUnit(java.util.concurrent.TimeUnit.MILLISECONDS)));
      failure = ping(vertx, client, c).transform(ar -> Future.succeededFuture(ar.cause())).await();
    } finally {
      vertx.close().await();
    }
    if (failure != null) {
      throw new BackupException(failure instanceof BackupException be ? be.code() : ErrorCode.CONNECTION,
          "not ready: " + c.host() + ":" + c.port() + ": " + BackupException.reason(failure));
    }
    main.spec().commandLine().getOut().println("ready");
    return 0;
  }

  /** Connects, sends a ping, and completes on the first answer (a RESPONSE), within the timeout. */
  private static Future<Void> ping(Vertx vertx, NetClient client, Config c) {
    return client.connect(c.port(), c.host()).compose(sock -> {
      Promise<Void> answered = Promise.promise();
      FrameDecoder d = new FrameDecoder(new FrameDecoder.Listener() {
        @Override
        public void onFrame(Frame f) {
          if (f.op() == Op.RESPONSE) {
            answered.tryComplete();
          } else {
            answered.tryFail(new BackupException(ErrorCode.PROTOCOL, "the answer was not a RESPONSE"));
          }
        }

        @Override
        public void onError(BackupException error) {
          answered.tryFail(error);
        }
      });
      sock.handler(d::feed);
      sock.closeHandler(v -> answered.tryFail(new BackupException(ErrorCode.CONNECTION, "closed without an answer")));
      long timer = vertx.setTimer(TIMEOUT_MS, t -> answered.tryFail(
          new BackupException(ErrorCode.TIMEOUT, "no answer within " + TIMEOUT_MS + " ms")));
      sock.write(new Frame(Op.REQUEST, 1, new JsonObject().put("op", "ping")).encode());
      return answered.future().onComplete(x -> {
        vertx.cancelTimer(timer);
        sock.close();
      });
    });
  }
}
