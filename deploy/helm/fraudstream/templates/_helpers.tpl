{{/* Shared pieces of the fraudstream chart: names, labels, addresses, env, probes, volumes. */}}

{{/* The gRPC (console: HTTP) and metrics port of each service, as docs/architecture.md fixes them. */}}
{{- define "fraudstream.ports" -}}
scorer: {grpc: 50051, metrics: 9101}
feedback: {grpc: 50052, metrics: 9102}
learner: {grpc: 50053, metrics: 9103}
ingest: {grpc: 50054, metrics: 9104}
console: {http: 8080, metrics: 9105}
{{- end }}

{{- define "fraudstream.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* <release> when it already contains the chart's name, else <release>-<chart>. */}}
{{- define "fraudstream.fullname" -}}
{{- if contains .Chart.Name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* Selector labels of one service; call with (dict "root" $ "service" "scorer"). */}}
{{- define "fraudstream.selectorLabels" -}}
app.kubernetes.io/name: {{ include "fraudstream.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .service }}
{{- end }}

{{- define "fraudstream.labels" -}}
{{ include "fraudstream.selectorLabels" . }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: fraudstream
{{- end }}

{{/* host:port of a service's ClusterIP Service, fully qualified. */}}
{{- define "fraudstream.addr" -}}
{{- $ports := include "fraudstream.ports" .root | fromYaml }}
{{- printf "%s-%s.%s.svc.%s:%v" (include "fraudstream.fullname" .root) .service .root.Release.Namespace .root.Values.clusterDomain (index $ports .service "grpc") }}
{{- end }}

{{/* Every scorer through the headless Service: gRPC's DNS resolver sees one address per pod. */}}
{{- define "fraudstream.scorerAddr" -}}
{{- $ports := include "fraudstream.ports" . | fromYaml }}
{{- printf "dns:///%s-scorer-headless.%s.svc.%s:%v" (include "fraudstream.fullname" .) .Release.Namespace .Values.clusterDomain $ports.scorer.grpc }}
{{- end }}

{{- define "fraudstream.image" -}}
{{- $image := .root.Values.image }}
{{- $tag := $image.tag | default .root.Chart.AppVersion }}
{{- if eq $image.mode "single" }}
{{- printf "%s:%s" $image.repository $tag }}
{{- else if eq $image.mode "perService" }}
{{- printf "%s/%s:%s" $image.repository .service $tag }}
{{- else }}
{{- fail "image.mode must be perService or single" }}
{{- end }}
{{- end }}

{{/* Name of the Secret with this service's certificate (tls.crt, tls.key, ca.crt). */}}
{{- define "fraudstream.tlsSecret" -}}
{{- index .root.Values.tls.secrets .service | default (printf "%s-%s-tls" (include "fraudstream.fullname" .root) .service) }}
{{- end }}

{{/* The container of one service: image, command, ports, env, probes, mounts. */}}
{{- define "fraudstream.container" -}}
{{- $root := .root }}
{{- $values := index $root.Values .service }}
{{- $ports := index (include "fraudstream.ports" $root | fromYaml) .service }}
{{- $port := $ports.grpc | default $ports.http }}
- name: {{ .service }}
  image: {{ include "fraudstream.image" . }}
  imagePullPolicy: {{ $root.Values.image.pullPolicy }}
  {{- if eq $root.Values.image.mode "single" }}
  command: ["fraudstream", "serve", {{ .service | quote }}]
  {{- end }}
  ports:
    {{- if $ports.grpc }}
    - {name: grpc, containerPort: {{ $ports.grpc }}, protocol: TCP}
    {{- else }}
    - {name: http, containerPort: {{ $ports.http }}, protocol: TCP}
    {{- end }}
    - {name: metrics, containerPort: {{ $ports.metrics }}, protocol: TCP}
  env:
    - {name: FRAUDSTREAM_HOST, value: "0.0.0.0"}
    - {name: FRAUDSTREAM_PORT, value: {{ $port | quote }}}
    - {name: FRAUDSTREAM_METRICS_PORT, value: {{ $ports.metrics | quote }}}
    - {name: FRAUDSTREAM_KAFKA_BOOTSTRAP, value: {{ $root.Values.kafka.bootstrapServers | quote }}}
    - {name: FRAUDSTREAM_SCORER_ADDR, value: {{ include "fraudstream.scorerAddr" $root | quote }}}
    - {name: FRAUDSTREAM_FEEDBACK_ADDR, value: {{ include "fraudstream.addr" (dict "root" $root "service" "feedback") | quote }}}
    - {name: FRAUDSTREAM_LEARNER_ADDR, value: {{ include "fraudstream.addr" (dict "root" $root "service" "learner") | quote }}}
    {{- if $root.Values.tls.enabled }}
    - {name: FRAUDSTREAM_TLS_CERT, value: /etc/fraudstream/tls/tls.crt}
    - {name: FRAUDSTREAM_TLS_KEY, value: /etc/fraudstream/tls/tls.key}
    - {name: FRAUDSTREAM_TLS_CA, value: /etc/fraudstream/tls/ca.crt}
    {{- end }}
    {{- if $root.Values.kafka.tls.enabled }}
    {{- if not $root.Values.tls.enabled }}
    {{- fail "kafka.tls.enabled uses each service's certificate: set tls.enabled too" }}
    {{- end }}
    - {name: FRAUDSTREAM_KAFKA_SECURITY_PROTOCOL, value: SSL}
    - {name: FRAUDSTREAM_KAFKA_SECURITY_SSL_CA, value: /etc/fraudstream/tls/ca.crt}
    - {name: FRAUDSTREAM_KAFKA_SECURITY_SSL_CERT, value: /etc/fraudstream/tls/tls.crt}
    - {name: FRAUDSTREAM_KAFKA_SECURITY_SSL_KEY, value: /etc/fraudstream/tls/tls.key}
    {{- end }}
    {{- if $root.Values.auth.serviceTokens.existingSecret }}
    - name: FRAUDSTREAM_SERVICE_TOKEN
      valueFrom:
        secretKeyRef: {name: {{ $root.Values.auth.serviceTokens.existingSecret }}, key: {{ .service }}, optional: true}
    {{- end }}
    {{- range $name, $value := $root.Values.env }}
    - {name: {{ $name }}, value: {{ $value | quote }}}
    {{- end }}
    {{- with .env }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
    {{- range $name, $value := $values.env }}
    - {name: {{ $name }}, value: {{ $value | quote }}}
    {{- end }}
  {{- if $ports.grpc }}
  {{- include "fraudstream.grpcProbes" (dict "root" $root "port" $ports.grpc) | nindent 2 }}
  {{- else }}
  readinessProbe:
    httpGet: {path: {{ $values.probePath }}, port: http}
    {{- toYaml $root.Values.probes.readiness | nindent 4 }}
  livenessProbe:
    httpGet: {path: {{ $values.probePath }}, port: http}
    {{- toYaml $root.Values.probes.liveness | nindent 4 }}
  {{- end }}
  resources:
    {{- toYaml $values.resources | nindent 4 }}
  securityContext:
    {{- toYaml $root.Values.securityContext | nindent 4 }}
  volumeMounts:
    - {name: tmp, mountPath: /tmp}
    {{- if $root.Values.tls.enabled }}
    - {name: tls, mountPath: /etc/fraudstream/tls, readOnly: true}
    - {name: probe, mountPath: /etc/fraudstream/probe, readOnly: true}
    {{- end }}
    {{- with .mounts }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end }}

{{/* Readiness and liveness of a gRPC server: grpc.health.v1 for the whole server (""). */}}
{{- define "fraudstream.grpcProbes" -}}
{{- $probe := dict "grpc" (dict "port" .port) }}
{{- if .root.Values.tls.enabled }}
{{- $probe = dict "exec" (dict "command" (list "python" "/etc/fraudstream/probe/grpc_probe.py")) }}
{{- end }}
readinessProbe:
  {{- toYaml (merge (deepCopy $probe) .root.Values.probes.readiness) | nindent 2 }}
livenessProbe:
  {{- toYaml (merge (deepCopy $probe) .root.Values.probes.liveness) | nindent 2 }}
{{- end }}

{{/* Pod-level settings every service shares: user, pull secrets, scheduling, base volumes. */}}
{{- define "fraudstream.podCommon" -}}
{{- $values := index .root.Values .service }}
securityContext:
  {{- toYaml .root.Values.podSecurityContext | nindent 2 }}
{{- with .root.Values.image.pullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* Volumes every pod has; call with (dict "root" $ "service" ...). */}}
{{- define "fraudstream.baseVolumes" -}}
- name: tmp
  emptyDir: {}
{{- if .root.Values.tls.enabled }}
- name: tls
  secret:
    secretName: {{ include "fraudstream.tlsSecret" . }}
    defaultMode: 0440
- name: probe
  configMap:
    name: {{ include "fraudstream.fullname" .root }}-probe
{{- end }}
{{- end }}

{{/* The model bundle, read-only: an existing claim, or an emptyDir an init container fills. */}}
{{- define "fraudstream.modelsVolume" -}}
{{- $models := .Values.models }}
{{- if $models.existingClaim }}
- name: models
  persistentVolumeClaim: {claimName: {{ $models.existingClaim }}, readOnly: true}
{{- else if $models.image.repository }}
- name: models
  emptyDir: {}
{{- else }}
{{- fail "models: set models.existingClaim or models.image.repository (the model bundle)" }}
{{- end }}
{{- end }}

{{- define "fraudstream.modelsMount" -}}
- name: models
  mountPath: /models
  readOnly: true
  {{- if and .Values.models.existingClaim .Values.models.subPath }}
  subPath: {{ .Values.models.subPath }}
  {{- end }}
{{- end }}

{{/* Copies the bundle out of models.image (when no claim is given). */}}
{{- define "fraudstream.modelsInit" -}}
{{- $models := .Values.models }}
{{- if and (not $models.existingClaim) $models.image.repository }}
initContainers:
  - name: models
    image: {{ printf "%s:%s" $models.image.repository $models.image.tag }}
    imagePullPolicy: {{ .Values.image.pullPolicy }}
    command: ["cp", "-R", {{ printf "%s/." (clean (printf "%s/%s" $models.image.path $models.subPath)) | quote }}, "/models/"]
    securityContext:
      {{- toYaml .Values.securityContext | nindent 6 }}
    resources:
      requests: {cpu: 50m, memory: 64Mi}
      limits: {cpu: 500m, memory: 256Mi}
    volumeMounts:
      - {name: models, mountPath: /models}
{{- end }}
{{- end }}

{{/* Prometheus scrape annotations of a pod (metrics.podAnnotations). */}}
{{- define "fraudstream.podAnnotations" -}}
{{- if .root.Values.metrics.podAnnotations }}
{{- $ports := index (include "fraudstream.ports" .root | fromYaml) .service }}
annotations:
  prometheus.io/scrape: "true"
  prometheus.io/port: {{ $ports.metrics | quote }}
  prometheus.io/path: /metrics
{{- end }}
{{- end }}
