package dev.backup.cli;

import dev.backup.config.Config;
import dev.backup.config.Role;
import dev.backup.protocol.BackupException;
import dev.backup.protocol.ErrorCode;
import dev.backup.protocol.Frame;
import dev.backup.protocol.Op;
import io.vertx.core.json.JsonObject;
import java.io.DataInputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.ParentCommand;

/**
 * {@code backup.jar --role=manager|server ... health}: asks the element itself (at its own
 * host and port, from the same flags, environment and file) whether it is ready. Exit 0
 * when it answers; for container health checks.
 */
@Command(name = "health", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
    description = "Ask this element (manager or server, at its own --host/--port) whether it is ready.")
final class HealthCommand implements Callable<Integer> {
  @ParentCommand
  Main main;

  @Override
  public Integer call() throws IOException {
    Config c = main.config();
    if (c.role() == Role.client) {
      throw new BackupException(ErrorCode.USAGE, "health asks a manager or a server; give --role=manager or --role=server");
    }
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress(c.host(), c.port()), 3000);
      s.setSoTimeout(3000);
      s.getOutputStream().write(new Frame(Op.REQUEST, 1, new JsonObject().put("op", "ping")).encode().getBytes());
      DataInputStream in = new DataInputStream(s.getInputStream());
      byte[] header = new byte[Frame.HEADER_LENGTH];
      in.readFully(header);
      if (header[5] != Op.RESPONSE.code()) {
        throw new BackupException(ErrorCode.PROTOCOL, "not ready: the answer was not a RESPONSE");
      }
    } catch (IOException e) {
      throw new BackupException(ErrorCode.CONNECTION, "not ready: " + c.host() + ":" + c.port() + ": " + e.getMessage());
    }
    main.spec().commandLine().getOut().println("ready");
    return 0;
  }
}
