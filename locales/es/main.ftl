# claudemesh — mensajes en español. Cada id debe existir también en locales/en/main.ftl (lo comprueba un test).
# Voz: de una a tres frases — qué pasó, por qué, una acción siguiente.

## Ayuda corta (`claudemesh` sin argumentos)

help-tagline = Una malla de pares para sesiones de Claude Code.
help-start-new = Crea una malla: claudemesh new <nombre> --broker ws://HOST:PUERTO/ws
help-start-join = Únete a una: claudemesh <url-de-invitación>
help-daily = Después: claudemesh peers, claudemesh send <par> <texto>, claudemesh inbox
help-all = Todos los comandos y opciones: claudemesh --help

## Membresía

new-done = Tu malla está activa. Cualquiera con la invitación puede unirse.
new-details = { $mesh } (slug { $slug }) en { $broker }; eres { $name }.
new-next = Invita a alguien: claudemesh invite
invite-done = Invitación a { $mesh } como { $role }, { $uses ->
    [one] de un solo uso
   *[other] válida para { $uses } usos
}, vigente durante { $span }:
invite-next = Comparte el enlace; la otra persona ejecuta: claudemesh <enlace>
join-done = Ya estás dentro.
join-details = { $mesh }: eres { $name } ({ $role }), invitado por { $inviter }.
join-next = Mira quién está: claudemesh peers
join-already = Ya estás en { $mesh } (slug { $slug }); no cambió nada.
list-empty = Esta máquina aún no se ha unido a ninguna malla.
rename-done = { $old } ahora se llama { $new }.
leave-done = Saliste de { $mesh }. Sus claves y mensajes se borraron de esta máquina.
leave-now-current = La malla actual ahora es { $mesh }.
prompt-type-to-confirm = Escribe "{ $word }" para confirmar:

## whoami

whoami-mesh = malla
whoami-mesh-id = id de malla
whoami-name = nombre
whoami-role = rol
whoami-member-key = clave de miembro
whoami-peer-id = id de par
whoami-session = sesión
whoami-broker = broker
whoami-no-peer-yet = (ninguno aún: esta sesión no se ha conectado)

## Mensajería

send-done = Enviado.
send-details = id { $id } · para { $to } · { $count ->
    [one] 1 destinatario
   *[other] { $count } destinatarios
}
send-next = Sigue su entrega: claudemesh msg-status { $id }
inbox-empty = No hay mensajes en { $mesh }.
inbox-empty-unread = No hay mensajes sin leer en { $mesh }.
peers-online = conectado
peers-you = (tú)
status-header = { $id } para { $to }: { $state }
status-attempts = { $count ->
    [one] 1 intento
   *[other] { $count } intentos
}
status-set-done = Estado cambiado a { $status }.
summary-set-done = Resumen actualizado.
group-join-done = Te uniste a @{ $group }.
group-leave-done = Saliste de @{ $group }.
time-just-now = ahora mismo
time-ago = hace { $span }

## Avisos (stderr)

warn-permissions = { $path } tiene modo { $mode }, más abierto que { $expected }; claudemesh lo restringe en su próxima escritura.
warn-undecryptable = Se descartó un mensaje que dice venir de { $name }: { $detail }.
warn-skipped-unattested = Se omitió a { $name }: su clave de sesión no está certificada por su clave de miembro.
warn-inbox-offline = No se puede contactar con el broker en { $broker }, así que solo se muestran los mensajes que ya están en esta máquina.
warn-reconnecting = Se perdió la conexión con { $broker }; reconectando.

## Errores: qué pasó y por qué (la pista de abajo dice qué hacer)

err-internal = claudemesh tuvo un error interno: { $detail }.
err-no-home = No hay un directorio donde guardar las claves, porque no están definidas ni CLAUDEMESH_HOME ni HOME.
err-key-missing = Falta el archivo de clave { $path }, así que esta máquina no puede actuar por esa membresía.
err-config-invalid = No se puede leer { $path }: { $detail }.
err-local-io = No se puede escribir { $path }: { $detail }.
err-store = Falló el almacén local de mensajes: { $detail }.
err-store-too-new = El almacén local de mensajes lo escribió un claudemesh más reciente.
err-invite-not-invite = Esto no es un enlace de invitación de claudemesh.
err-invite-malformed = El enlace de invitación está dañado (su token no se puede decodificar).
err-invite-version = La invitación usa la versión { $version }, que este claudemesh no conoce.
err-invite-forged = La firma de la invitación no coincide con su contenido: fue alterada o falsificada.
err-invite-expired-broker = El broker indica que esta invitación ha caducado.
err-invite-exhausted = Esta invitación ya se usó todas las veces que permite.
err-invite-invalid = El broker no acepta esta invitación: fue revocada, nunca se registró o quien la emitió ya no es administrador.
err-bad-broker-url = { $url } no es una URL de broker: { $detail }.
err-new-needs-broker = No se indicó un broker, y el broker local sin configuración aún no está disponible.
err-unreachable = No se puede contactar con el broker en { $url } ({ $detail }).
err-connect-timeout = El broker en { $url } no respondió en { $secs } s.
err-call-timeout = El broker no respondió a { $method } en { $secs } s.
err-connection-lost = Se cortó la conexión con el broker ({ $detail }).
err-removed = El broker cerró la conexión porque este miembro ya no está en la malla.
err-session-replaced = Otro proceso se conectó con la clave de esta sesión y tomó la conexión.
err-protocol = El broker envió algo que este claudemesh no entiende: { $detail }.
err-body-too-large = El mensaje ocupa { $bytes } bytes; el límite es { $max }.
err-body-empty = El mensaje está vacío.
err-stdin-not-text = La entrada estándar no es texto UTF-8.
err-ttl-too-long = El TTL supera los 30 días que un broker guarda los mensajes.
err-unverified = No se pudo verificar a ningún destinatario: { $names } no superaron la certificación.
err-no-such-peer = No hay ningún par llamado "{ $name }" en esta malla.
err-empty-group = No hay ningún otro par en @{ $group }.
err-nobody-else = Aún no hay otros pares en esta malla.
err-send-to-self = "{ $name }" es esta misma sesión.
err-empty-target = El destinatario está vacío.
err-auth-failed = El broker rechazó las claves de esta sesión ({ $detail }).
err-not-member = El broker indica que este miembro no está en la malla ({ $detail }).
err-forbidden = Tu rol no permite esto ({ $detail }).
err-not-found = El broker no tiene ese objeto ({ $detail }).
err-already-exists = Eso ya existe en el broker ({ $detail }).
err-conflict = Otro lo cambió antes ({ $detail }).
err-rate-limited = El broker está limitando el ritmo de esta sesión ({ $detail }).
err-payload-too-large = El broker rechazó el mensaje por demasiado grande ({ $detail }).
err-invalid-params = El broker rechazó la petición ({ $detail }).
err-broker-unavailable = El almacenamiento del broker no está disponible, así que no se guardó nada ({ $detail }).
err-broker-internal = El broker no pudo atender la petición ({ $detail }).
err-invite-needs-admin = Solo propietarios y administradores pueden crear invitaciones a { $mesh }; tu rol es { $role }.
err-rename-needs-admin = Solo propietarios y administradores pueden renombrar { $mesh }; tu rol es { $role }.
err-leave-owner = El propietario no puede salir de { $mesh }, porque una malla siempre conserva a su propietario.
err-needs-yes = Salir borra las claves de esta malla, y no hay terminal donde confirmarlo.
err-cancelled = Cancelado; no cambió nada.
err-bad-mesh-name = "{ $name }" no es un nombre de malla válido.
err-bad-display-name = "{ $name }" no es un nombre visible válido.
err-bad-group-name = "{ $name }" no es un nombre de grupo válido.
err-bad-summary = Un resumen tiene como máximo { $max } caracteres y ningún carácter de control.
err-bad-message-id = "{ $id }" no es un id de mensaje.
err-no-meshes = Esta máquina aún no se ha unido a ninguna malla.
err-no-current = No hay ninguna malla seleccionada.
err-mesh-not-found = No hay ninguna malla local "{ $slug }".

## Pistas: exactamente una acción siguiente

hint-report-bug = Infórmalo como error, con el comando que ejecutaste y este mensaje.
hint-set-home = Define CLAUDEMESH_HOME con un directorio.
hint-rejoin = Vuelve a unirte a la malla con una invitación nueva.
hint-fix-config = Corrige o borra ese archivo y vuelve a ejecutar el comando.
hint-check-disk = Revisa el disco y los permisos del archivo.
hint-upgrade = Actualiza claudemesh.
hint-ask-new-invite = Pide una invitación nueva a un administrador de la malla.
hint-broker-flag = Usa --broker ws://HOST:PUERTO/ws (o define CLAUDEMESH_BROKER).
hint-start-broker = Inícialo con claudemesh broker, o revisa la URL.
hint-retry = Vuelve a ejecutar el comando.
hint-session-id = Ejecuta un solo comando de claudemesh a la vez por sesión, o da a cada uno su propio CLAUDE_CODE_SESSION_ID.
hint-shorten = Envía un mensaje más corto (como máximo 32 KiB).
hint-send-usage = Uso: claudemesh send <par|@grupo|*> <texto>
hint-unverified = Pídeles que se reconecten; sus claves no son las que firmó su membresía.
hint-closest-peers = ¿Quisiste decir: { $closest }?
hint-list-peers = Mira quién está: claudemesh peers
hint-invite = Invita a alguien: claudemesh invite
hint-ask-admin = Pídeselo a un propietario o administrador de la malla.
hint-reread = Vuelve a leerlo y reintenta con la versión que viste.
hint-check-id = Revisa el id: claudemesh msg-status recibe el id que imprime send.
hint-check-args = Revisa los valores con claudemesh --help.
hint-ttl = Usa un TTL de 30d como máximo.
hint-leave-owner = Consérvala por ahora: aún no se puede ceder una malla a otro propietario.
hint-needs-yes = Vuelve a ejecutarlo con -y: claudemesh { $word } { $slug } -y
hint-name-rules = Usa de 1 a 64 caracteres sin caracteres de control.
hint-group-rules = Usa de 1 a 64 caracteres sin espacios, como dev o @dev.
hint-message-id = Usa el id que imprime claudemesh send.
hint-new-or-join = Crea una con claudemesh new <nombre> --broker ws://HOST:PUERTO/ws, o únete con claudemesh <url-de-invitación>.
hint-pick-mesh = Elige una con --mesh SLUG (mira claudemesh list).
hint-known-meshes = Usa una de estas: { $known }.
hint-help = Mira claudemesh --help.

# receipts
status-via = por { $via ->
    [channel] canal
    [inbox_socket] socket del buzón
    [hook] hook
    [cli] CLI
   *[other] { $via }
} · { $ago }

# daemon and warm path
send-queued = En cola: ahora mismo no se puede contactar con el broker en { $broker }.
send-queued-full = En cola: el broker en { $broker } no puede guardar mensajes ahora mismo (su disco está lleno o su almacenamiento falló); esta máquina lo conserva y lo vuelve a intentar.
send-queued-details = id { $id } · saldrá, en orden, en cuanto el broker vuelva
status-outbox = { $id } sigue en la bandeja de salida de esta máquina: el broker en { $broker } aún no lo ha recibido.
warn-daemon-reconnecting = Se perdió la conexión con el daemon de claudemesh; reconectando.
daemon-not-running = El daemon de claudemesh no está en marcha.
daemon-starts-on-demand = Arranca solo con el siguiente comando de claudemesh.
daemon-running = Daemon { $version } en marcha (pid { $pid }), { $outbox } en cola para enviar.
daemon-embedded = broker integrado { $url }
daemon-stopped = Daemon detenido (pid { $pid }).

# claude integration
install-done = claudemesh está instalado en Claude Code: servidor MCP, skill y hooks.
install-already = claudemesh ya está instalado en Claude Code; no ha cambiado nada.
install-where = Servidor MCP en { $mcp }, hooks en { $settings }, skill en { $skill }
install-moved = Las entradas de claudemesh apuntaban a { $previous }; ahora ejecutan { $binary }.
install-next = Abre Claude Code en tu malla: claudemesh launch
uninstall-done = claudemesh se ha quitado de Claude Code: servidor MCP, skill y hooks.
uninstall-none = claudemesh no está instalado en Claude Code; no ha cambiado nada.
uninstall-next = Vuelve a instalarlo con claudemesh install
claude-backups = Copias de seguridad: { $paths }
warn-claude-not-installed = Claude Code no tiene el servidor MCP de claudemesh, así que los mensajes no llegarán a esta sesión. Ejecuta antes claudemesh install.
warn-daemon-not-started = El daemon de claudemesh no arrancó ({ $detail }); Claude Code se abre igualmente.
err-claude-not-found = Claude Code no está instalado: no hay ningún claude en el PATH.
err-claude-exec = No se puede iniciar { $path }: { $detail }.
err-claude-no-home = No se encuentran los archivos de Claude Code porque HOME no está definido.
err-claude-config-malformed = { $path } no es JSON válido ({ $detail }), así que claudemesh no ha cambiado nada.
err-claude-config-shape = En { $path }, { $pointer } no es un { $expected } JSON, así que claudemesh no ha cambiado nada.
err-claude-config-busy = { $path } cambió una y otra vez mientras claudemesh lo editaba, así que claudemesh lo ha dejado como estaba.
hint-install-claude = Instálalo con npm install -g @anthropic-ai/claude-code y vuelve a ejecutar el comando.
hint-fix-json = Corrige ese archivo y vuelve a ejecutar el comando.
hint-set-home-claude = Define HOME (o CLAUDE_CONFIG_DIR) y vuelve a ejecutar el comando.
err-daemon = El daemon de claudemesh no completó la petición: { $detail }.
hint-daemon = Mira qué hace con claudemesh daemon status; con CLAUDEMESH_NO_DAEMON=1 se va directo al broker.

# resources
mesh-use-done = { $mesh } ({ $slug }) es ahora la malla actual.
mesh-info-members = miembros
mesh-info-online = en línea
profile-status = estado
profile-summary = resumen
profile-visible = visible
profile-groups = grupos
profile-set-done = Perfil actualizado.
group-list-empty = Nadie en { $mesh } se ha unido a un grupo todavía. Únete a uno con: claudemesh group join <nombre>
invite-list-empty = { $mesh } aún no tiene invitaciones. Crea una con: claudemesh invite
invite-revoked = Invitación { $id } revocada: ya nadie puede unirse con ella.
invite-already-revoked = La invitación { $id } ya estaba revocada.
err-invites-admin-only = Solo los propietarios y administradores pueden ver o revocar las invitaciones de { $mesh }; tu rol es { $role }.
hint-did-you-mean-mesh = ¿Querías decir { $closest }? Mallas conocidas: { $known }.

# audit
audit-empty = El registro de auditoría aún no tiene entradas.
audit-intact = Registro de auditoría íntegro: { $count ->
    [one] 1 entrada
   *[other] { $count } entradas
}.
audit-head = hash más reciente { $hash } (guárdalo en otro sitio para notar más adelante entradas quitadas)
audit-err-broken = La línea { $line } de { $path } rompe la cadena de hashes: { $reason ->
    [incomplete] está cortada, como la deja una escritura interrumpida por un fallo.
    [empty] está vacía.
    [too-long] es más larga que cualquier entrada de auditoría.
    [not-json] no es JSON.
    [not-canonical] no está en forma canónica, así que fue editada.
    [bad-entry] no es una entrada de auditoría ({ $detail }).
    [hash] su hash no coincide con su contenido, así que fue editada.
    [seq] es la entrada { $found } donde corresponde la entrada { $expected }, así que se quitaron, añadieron o reordenaron líneas.
   *[prev] no lleva el hash de la línea anterior, así que una línea anterior fue cambiada o sustituida.
}
audit-hint-broken = Guarda el archivo como prueba y apártalo (mv { $path } { $path }.broken); la siguiente entrada empieza una cadena nueva.
audit-err-damaged-tail = La última línea de { $path } está dañada, así que claudemesh no le añade nada.
audit-hint-verify = Busca la primera línea dañada con claudemesh audit verify
audit-err-io = No se puede usar el registro de auditoría { $path }: { $detail }.

# output contract
err-output-unknown-field = El documento no tiene el campo { $fields }. Campos válidos: { $valid }.
hint-output-fields = Pide campos de esa lista (--json=a,b), o usa --json solo para tenerlos todos.
err-output-text-with-json = --output-format text pide texto para personas, pero --json, --jq y --template piden JSON.
hint-output-text = Deja solo una de las dos opciones.
err-output-jq-syntax = El programa de --jq no es jq válido: { $detail }.
err-output-jq-run = El programa de --jq falló sobre el documento: { $detail }.
hint-output-jq = Mira con --json el documento sobre el que se ejecuta y corrige el programa.
err-output-template-syntax = La plantilla de --template no es válida: { $detail }.
err-output-template-render = La plantilla de --template falló sobre el documento: { $detail }.
hint-output-template = Mira con --json los campos que puede usar y corrige la plantilla.

# policy gate
err-policy-invalid = No se pudo leer la política: { $detail }. No se ejecutó nada.
hint-policy-invalid = Corrige el archivo en esa línea y columna y vuelve a ejecutar el comando.
err-policy-denied = La política no permite { $action }: { $reason }.
hint-policy-denied = Revisa las reglas de policy.yaml en tu directorio de claudemesh (o consulta a quien fijó la política de administración).
err-policy-prompt-no-tty = La política pide confirmar { $action } ({ $reason }) y no hay terminal donde preguntar, así que no se ejecutó.
hint-policy-prompt = Ejecútalo en una terminal, añade --yes para responder sí de antemano o permítelo en policy.yaml.
err-policy-declined = { $action } no se ejecutó: respondiste que no.
prompt-policy = ¿Permitir { $action } { $target }? ({ $reason }) [s/N]

# peer watch
err-watch-needs-daemon = Para seguir a los pares hace falta el daemon de claudemesh, y no se pudo contactar.
err-watch-daemon-gone = El daemon de claudemesh se detuvo mientras seguías a los pares.
peer-event-joined = { $name } se unió
peer-event-left = { $name } se fue
peer-event-updated = { $name } cambió

## Terminal UI
tui-quit-hint = q para salir
tui-dash-peers = { $count ->
    [one] 1 par
   *[other] { $count } pares
}
tui-dash-keys = ? teclas · 1-4 paneles · Tab foco · c escribir · / filtrar · m mallas · q salir
tui-overlay-disconnected = Se perdió la conexión con la malla. Reconectando…
tui-overlay-reconnected = Reconectado.
tui-overlay-dismiss = Esc para cerrar
tui-help-title = Teclas
tui-help-keys =
    ↑ ↓ o j k    elegir un par, o desplazar los mensajes
    Tab          pasar entre pares, mensajes y redacción
    c o Enter    escribir un mensaje
    Enter        enviar (al redactar)
    Alt-Enter    nueva línea (también Ctrl-J)
    Tab          completar @nombre (al redactar)
    Ctrl-P o p   prioridad: now, next, low
    /            filtrar pares y mensajes (Esc lo borra)
    f            ver la huella de la clave del par elegido
    m            cambiar de malla
    1 2 3 4      mensajes, estado compartido, tareas, buscar en memoria
    r            volver a leer el panel compartido
    RePág AvPág  desplazar los mensajes (Fin: lo último)
    ?            mostrar u ocultar esta ayuda
    q            salir
    Ctrl-C       salir desde cualquier pantalla
tui-dash-peers-title = Pares
tui-dash-stream-title = Mensajes
tui-dash-newer = { $count } más recientes abajo · Fin
tui-dash-no-peers = Aún no hay pares en esta malla. Invita a uno con claudemesh invite.
tui-dash-no-messages = Aún no hay mensajes. Pulsa c, escribe @nombre y un mensaje, y luego Enter.
tui-dash-no-match = Nada coincide con el filtro. Esc lo borra.
tui-dash-you = tú
tui-dash-status-idle = libre
tui-dash-status-working = trabajando
tui-dash-status-dnd = no molestar
tui-dash-status-away = ausente
tui-dash-ago-now = ahora
tui-dash-ago-m = hace { $n } min
tui-dash-ago-h = hace { $n } h
tui-dash-ago-d = hace { $n } d
tui-dash-key-verified = clave verificada
tui-dash-key-unverified = clave sin verificar
tui-dash-state-sending = enviando
tui-dash-state-queued = en cola
tui-dash-state-delivered = entregado
tui-dash-state-surfaced = mostrado
tui-dash-state-read = leído
tui-dash-state-failed = no enviado
tui-dash-state-received = recibido
tui-dash-compose-title = Mensaje
tui-dash-compose-to = Para { $to }
tui-dash-compose-hint = @nombre mensaje · Enter envía
tui-dash-compose-idle = c para escribir
tui-dash-priority = prioridad { $priority }
tui-dash-sent = Enviado.
tui-dash-queued = En cola: el broker no responde ahora. Saldrá cuando vuelva la conexión.
tui-dash-failed = No enviado: { $reason }
tui-dash-empty = Nada que enviar. Escribe @nombre y un mensaje.
tui-dash-filter = filtro: { $text }
tui-dash-keys-compose = Enter envía · Alt-Enter nueva línea · Tab @nombre · Ctrl-P prioridad · Esc volver
tui-dash-keys-filter = Escribe para filtrar · Enter mantener · Esc borrar
tui-dash-switcher-title = Mallas
tui-dash-switcher-current = la que ves
tui-dash-switcher-empty = No hay otra malla.
tui-dash-switcher-hint = ↑↓ elegir · Enter cambiar · Esc cerrar
tui-dash-pane-messages = Mensajes
tui-dash-pane-state = Estado
tui-dash-pane-tasks = Tareas
tui-dash-pane-memory = Memoria
tui-dash-state-title = { $count ->
    [one] Estado compartido · 1 clave
   *[other] Estado compartido · { $count } claves
}
tui-dash-tasks-title = { $count ->
    [one] Tareas · 1
   *[other] Tareas · { $count }
}
tui-dash-memory-title = { $count ->
    [one] Memoria · 1 nota
   *[other] Memoria · { $count } notas
}
tui-dash-cached = caché de hace { $secs } s
tui-dash-shared-failed = No se pudo leer: { $reason }
tui-dash-loading = Leyendo de la malla…
tui-dash-no-state = Aún no hay estado compartido. Guarda una clave con claudemesh state set CLAVE VALOR.
tui-dash-no-tasks = Aún no hay tareas. Crea una con claudemesh task create TÍTULO.
tui-dash-no-memories = Aún no hay memorias. Guarda una con claudemesh remember TEXTO.
tui-dash-no-memories-match = Ninguna memoria coincide con la búsqueda. Esc y luego / para buscar otra vez.
tui-dash-task-claimed = tomada por { $name }
tui-dash-task-blocked = bloqueada por { $count }
tui-dash-task-open = abierta
tui-dash-task-done = hecha
tui-dash-task-cancelled = cancelada
tui-dash-search = Buscar:
tui-dash-search-hint = / para buscar
tui-dash-keys-shared = 1-4 paneles · Tab foco · ↑↓ elegir · r recargar · ? teclas · q salir
tui-dash-keys-memory = 1-4 paneles · / buscar · Tab foco · ↑↓ elegir · r recargar · q salir
tui-dash-keys-query = Escribe para buscar · Enter buscar · Esc volver
err-tui-not-a-terminal = La vista a pantalla completa necesita una terminal, y stdin o stdout no lo es.
hint-tui-not-a-terminal = Ábrela en una terminal interactiva, o usa claudemesh peers y claudemesh inbox.
err-tui-terminal = La terminal falló: { $detail }

## Terminal UI: guided flows (launch, join, new, invite)
tui-welcome-creating = Creando tu malla…
tui-welcome-ready = Tu malla "{ $mesh }" está lista.
tui-youre-in = Ya estás dentro.
tui-opening-claude = Abriendo Claude Code…
tui-picker-title = ¿Qué malla?
tui-picker-keys = ↑↓ elegir · Enter abrir · q salir
tui-join-detected = Hay una invitación en el portapapeles.
tui-join-mesh = Malla
tui-join-inviter = Invita
tui-join-role = Rol
tui-join-broker = Broker
tui-join-choice = Unirse a "{ $mesh }"
tui-join-continue = Seguir en "{ $mesh }"
tui-join-own = Crear mi propia malla
tui-join-keys = Enter unirse · q salir
tui-join-keys-choice = ↑↓ elegir · Enter seguir · q salir
tui-join-joining = Uniéndote a { $mesh }…
tui-join-done = Te uniste a "{ $mesh }".
tui-new-question = ¿Nombre?
tui-new-slug = Slug: { $slug }
tui-new-invalid = Escribe un nombre de 1 a 64 caracteres.
tui-new-creating = Creando "{ $mesh }"…
tui-new-created = "{ $slug }" creada.
tui-new-keys = Enter crear · Esc salir
tui-invite-title = Invitar a alguien a { $mesh }
tui-invite-role = Rol
tui-invite-expires = Caduca en
tui-invite-keys = ↑↓ campo · ←→ cambiar · Enter crear · q salir
tui-invite-creating = Creando la invitación…
tui-invite-ready = Invitación a { $mesh } como { $role }, válida durante { $span }.
tui-invite-copied = Copiada al portapapeles. La otra persona ejecuta: claudemesh <enlace>
tui-invite-link = Enlace de invitación: { $url }
tui-invite-qr-small = Agranda la terminal para ver el código QR.
tui-invite-done-keys = Enter o q para cerrar
err-new-needs-name = La malla nueva necesita un nombre, y no hay terminal donde preguntarlo.
hint-new-name = Pásalo: claudemesh new <NOMBRE>
err-mesh-ambiguous = Hay varias mallas y ninguna está elegida: { $known }.
hint-mesh-flag = Elige una con --mesh SLUG, o hazla la actual con claudemesh mesh use SLUG.

# bench load
bench-load-title = Prueba de carga: { $peers } pares × { $messages } mensajes ({ $total } en total), ventana { $window }, broker { $broker }.
bench-broker-started = { $url } (iniciado para esta prueba)
bench-load-delivered = Entregados { $delivered } de { $total } ({ $ratio } %) en { $secs } s ({ $rate } mensajes/s); duplicados { $duplicates }, fuera de orden { $disorder }, reenviados tras una confirmación tardía { $redelivered }.
bench-col-measure = medida
bench-row-ack = envío → confirmación (duradero en el broker)
bench-row-delivered = envío → entrega (descifrado por el destinatario)
bench-load-broker = Broker: RSS máxima { $rss }, CPU { $cpu }, conexiones máximas { $connections }, descriptores de archivo máximos { $fds }.
bench-unknown = n/d
bench-load-timed-out = La prueba se detuvo al agotar su tiempo antes de que llegaran todos los mensajes.
bench-load-ok = Cada mensaje llegó exactamente una vez, en el orden de su remitente.
bench-fail-undelivered = { $missing } de { $total } mensajes nunca llegaron
bench-fail-duplicates = { $count } mensajes llegaron más de una vez
bench-fail-order = { $count } mensajes llegaron antes que uno anterior del mismo remitente
err-bench-failed = La prueba de carga rompió una garantía de entrega: { $what }.
hint-bench-failed = Guarda el informe (--json) y el registro del broker, e infórmalo como error.
hint-bench-timeout = Dale más tiempo con --timeout, o usa menos pares o mensajes.
err-bench-broker-start = No se pudo iniciar un broker para la prueba de carga: { $detail }.
err-bench-broker-ready = El broker iniciado para la prueba de carga no estuvo listo en { $secs } s.
hint-bench-broker = Ejecuta claudemesh broker tú mismo para ver por qué, o pasa --broker URL para usar un broker en marcha.
err-bench-setup-timeout = Preparar la malla de la prueba de carga tardó más que su límite de { $secs } s.
err-bench-missing-peers = Tras la preparación un par ve { $seen } pares en la malla, pero se unieron { $expected }.

# primitivas de coordinación: estado, memoria, tareas, contextos, streams, programaciones, reloj, acceso
coord-stale = Desde la caché, de hace { $secs } s: el broker no está accesible.
coord-queued = En cola: el broker no está accesible; se aplicará cuando vuelva.
err-coord-needs-daemon = Este verbo necesita el daemon de claudemesh, y no se pudo contactar.
err-coord-daemon-gone = El daemon de claudemesh cerró la conexión, así que el flujo terminó.
err-coord-not-json = El valor no es JSON ({ $detail }).
hint-coord-json = Pon las cadenas JSON entre comillas ('"texto"'), o quita --json-value para guardar el texto como cadena.
err-coord-value-too-large = El valor ocupa { $bytes } bytes como JSON; el límite es { $max }.
err-coord-bad-key = "{ $key }" no es una clave válida: usa de 1 a 256 caracteres de A-Z a-z 0-9 . _ : / -.
err-coord-too-many-tags = Se permiten como mucho { $max } etiquetas.
err-coord-bad-tag = "{ $tag }" no es una etiqueta válida: usa de 1 a 64 caracteres de a-z 0-9 . _ : -.
err-coord-bad-id = "{ $id }" no es un id válido.
hint-coord-id = Los ids son los 12 caracteres (a-z, 2-7) que se mostraron al crear la nota o la tarea; lístalas para encontrarlo.
err-coord-bad-length = { $what } debe medir de 1 a { $max }.
err-coord-bad-stream = "{ $name }" no es un nombre de stream válido: usa de 1 a 64 caracteres de a-z 0-9 . _ -.
err-coord-bad-cap = "{ $cap }" no es una capacidad. Conocidas: { $valid }.
err-coord-bad-cron = "{ $cron }" no es una expresión cron de 5 campos.
hint-coord-cron = Escribe minuto hora día-del-mes mes día-de-la-semana, p. ej. --cron "0 9 * * 1-5".
err-coord-time-past = { $time } ya pasó.
err-coord-bad-time = "{ $time }" no es una hora que este verbo entienda.
hint-coord-time = Usa RFC 3339 (2026-11-23T18:00:00Z), HH:MM para la hora local, o una duración como 2h.
err-coord-bad-since = "{ $since }" no es ni una duración ni una hora.
err-coord-bad-rate = La velocidad de reloj { $rate } está fuera de rango: usa de 0 a 1000.
state-meta = versión { $version } · { $name } · { $ago }
state-set-done = { $key } fijada (versión { $version }).
state-not-applied = { $key } no cambió: la tiene una escritura más nueva de { $name } (versión { $version }).
err-state-version = { $key } está ahora en la versión { $version }, así que se rechazó la escritura.
hint-state-version = Léela de nuevo con claudemesh state get { $key } y reintenta con --if-version { $version }.
state-list-empty = Todavía no hay claves aquí.
state-delete-done = { $key } borrada.
state-delete-absent = { $key } no existía; nada cambió.
state-watch-deleted = borrada
memory-remember-done = Recordado como { $id }.
memory-recall-empty = Ninguna nota coincide.
memory-forget-done = { $id } olvidada.
context-share-done = Compartiste tu contexto con la malla.
err-context-files = Se pueden compartir como mucho 100 archivos de 1 a 512 bytes cada uno.
err-context-too-long = La rama está limitada a 256 bytes y las notas a 4 KiB.
context-peer = par
context-summary = resumen
context-branch = rama
context-files = archivos
context-notes = notas
context-updated = actualizado
context-list-empty = Nadie ha compartido un contexto todavía.
task-create-done = Tarea { $id } creada: { $title }
task-create-next = Cualquiera puede tomarla: claudemesh task claim { $id }
task-list-empty = Ninguna tarea coincide.
task-id = id
task-title = título
task-state = estado
task-creator = creador
task-claimed-by = tomada por
task-tags = etiquetas
task-deps = depende de
task-blocked-by = bloqueada por
task-result = resultado
task-updated = actualizada
task-claim-done = La tarea { $id } es tuya hasta que la completes o la liberes.
err-task-claimed = La tarea { $id } la tiene { $name }.
hint-task-claimed = Elige otra tarea abierta: claudemesh task list --state open
err-task-conflict = La tarea { $id } no puede cambiar ahora: { $detail }.
hint-task-show = Mira en qué estado está: claudemesh task show { $id }
err-task-too-many-deps = Una tarea puede depender como mucho de { $max } tareas.
task-release-done = Tarea { $id } liberada; vuelve a estar abierta.
task-complete-done = Tarea { $id } completada; su creador recibe un mensaje.
task-cancel-done = Tarea { $id } cancelada.
err-schedule-usage = Da el mensaje, opcionalmente tras el destinatario, y una de --in, --at o --cron.
schedule-done = { $id } programado para { $to } { $when }.
schedule-in = dentro de { $span }
schedule-cron = según el cron "{ $cron }"
schedule-fired = disparado
schedule-list-empty = No hay programaciones.
schedule-cancel-done = Programación { $id } cancelada.
stream-create-done = Stream { $name } creado.
stream-create-exists = El stream { $name } ya existe; nada cambió.
stream-publish-done = Publicado en { $name } (seq { $seq }, { $count ->
    [one] un suscriptor
   *[other] { $count } suscriptores
}).
stream-list-empty = Todavía no hay streams.
stream-subscribers = { $count ->
    [one] un suscriptor
   *[other] { $count } suscriptores
}
stream-last-seq = último seq { $seq }
clock-paused = en pausa
clock-running = en marcha a velocidad { $rate }
err-access-bad-peer = "{ $peer }" no es un nombre ni una clave de par.
access-grant-done = { $caps } concedido a { $name }.
access-revoke-done = { $caps } retirado a { $name }.
access-effective = Efectivas: { $caps }
access-block-done = { $name } bloqueado: se rechazan sus mensajes directos y difusiones.
access-unblock-done = { $name } desbloqueado.
access-ban-done = { $name } expulsado para siempre: su clave de miembro no puede conectar ni canjear invitaciones.
access-unban-done = Se levantó la expulsión de { $name }.
access-kick-done = { $name } echado ({ $count ->
    [one] una sesión cerrada
   *[other] { $count } sesiones cerradas
}); puede volver con una invitación nueva.
access-role-done = { $name } ahora es { $role }.
access-list-empty = Ningún miembro coincide.
access-blocked = bloqueado
access-banned = expulsado
mesh-delete-done = { $mesh } borrada en el broker; todas sus sesiones quedan desconectadas.
mesh-delete-next = Quítala de esta máquina: claudemesh leave { $slug } -y
err-coord-not-found = No hay nada con ese nombre o id en esta malla ({ $detail }).
hint-coord-list = Mira qué existe con el verbo de listado: claudemesh state list, task list, recall, context list o access list.
schedule-cancel-ended = La programación { $id } ya había terminado; nada cambió.
state-watch-resync = Se perdieron algunos cambios mientras la vigilancia iba retrasada; vuelve a leer con claudemesh state list.
err-coord-unavailable = El broker no puede responder a esto ahora ({ $detail }).
hint-coord-unavailable = Vuelve a ejecutarlo cuando el broker esté accesible: claudemesh daemon status muestra el enlace.
schedule-ended = terminada
schedule-yourself = ti
# bench recall / bench state
bench-recall-title = Prueba de recall: { $memories } memorias guardadas en { $secs } s ({ $rate }/s), { $queries } consultas, { $hits } notas por consulta de media, { $empty } sin resultados.
bench-row-recall = memory.recall (ida y vuelta)
bench-state-title = Prueba de estado: { $sets } escrituras en { $secs } s ({ $rate }/s de { $target }/s pedidas) desde { $writers } escritores; { $complete } de { $watchers } observadores recibieron cada cambio.
bench-row-state-set = state.set (ida y vuelta)
bench-row-state-lag = escritura enviada → observador notificado
bench-state-ok = Cada observador recibió cada cambio una vez, en orden.
err-bench-state-failed = La prueba de estado rompió una garantía: { $missing } cambios perdidos, { $duplicates } duplicados, { $disorder } fuera de orden, { $errors } escrituras fallidas.
err-bench-coord-errors = Fallaron { $count } peticiones de la prueba.
