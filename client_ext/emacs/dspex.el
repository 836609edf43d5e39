;;; dspex.el --- dspex through eglot  -*- lexical-binding: t; -*-

;; Start the dspex daemon with eglot and use it from Emacs 28+ (eglot: built in since 29;
;; on 28 from ELPA or Debian's elpa-eglot).
;;   (require 'dspex)
;;   M-x eglot            in a buffer of a mode listed in `dspex-modes'
;;   M-x dspex-chat       ask (the dspex.chat command); the answer goes to *dspex*
;;   M-x dspex-explain    explain the region (dspex.explain) in the buffer's language
;;   M-x dspex-predict    run a signature on the region (dspex/predict)
;; The commands are standard `workspace/executeCommand' requests: any LSP client can send
;; them; here the answer is rendered in *dspex* (`show' = "none": eglot has no
;; window/showDocument).

(require 'cl-lib)
(require 'eglot)
(require 'jsonrpc)

(defgroup dspex nil "dspex LLM daemon." :group 'tools)

(defcustom dspex-server-command '("dspex-server")
  "Command that starts the dspex daemon on stdio."
  :type '(repeat string))

(defcustom dspex-modes '(text-mode markdown-mode org-mode prog-mode)
  "Major modes in which eglot may start dspex."
  :type '(repeat symbol))

(defcustom dspex-initialization-options nil
  "Settings sent as initializationOptions, a plist.
E.g. (:defaultProvider \"anthropic\").  Keys are better kept in the environment
or ~/.config/dspex/config.toml."
  :type 'sexp)

(defcustom dspex-provider nil
  "Provider for the commands (nil: the daemon's default)."
  :type '(choice (const nil) string))

(defclass dspex-eglot-server (eglot-lsp-server) ()
  "The dspex daemon as an eglot server.")

(cl-defmethod eglot-initialization-options ((_server dspex-eglot-server))
  (or dspex-initialization-options eglot--{}))

(add-to-list 'eglot-server-programs
             (cons dspex-modes (cons 'dspex-eglot-server dspex-server-command)))

(defun dspex--server ()
  (or (eglot-current-server) (user-error "dspex: start it with M-x eglot")))

(defun dspex--show (text)
  (with-current-buffer (get-buffer-create "*dspex*")
    (goto-char (point-max))
    (insert text "\n")
    (unless noninteractive
      (display-buffer (current-buffer)))))

(defun dspex-execute (command argument)
  "Run the dspex COMMAND (a string) with ARGUMENT (a plist); return its result."
  (jsonrpc-request (dspex--server) :workspace/executeCommand
                   `(:command ,command :arguments [,argument])))

(defun dspex--options (plist)
  (append plist (list :show "none")
          (when dspex-provider (list :provider dspex-provider))))

(defun dspex--language ()
  "The buffer's language as an LSP languageId (python-ts-mode -> python)."
  (replace-regexp-in-string "\\(-ts\\)?-mode\\'" "" (symbol-name major-mode)))

(defun dspex-chat (prompt)
  "Send PROMPT to the dspex daemon (dspex.chat) and show the answer."
  (interactive "sdspex chat: ")
  (let ((answer (dspex-execute "dspex.chat" (dspex--options (list :prompt prompt)))))
    (dspex--show (format "> %s\n%s" prompt (plist-get answer :text)))
    answer))

(defun dspex-explain (start end)
  "Explain the region from START to END (dspex.explain) in the buffer's language."
  (interactive "r")
  (let ((answer (dspex-execute
                 "dspex.explain"
                 (dspex--options
                  (list :text (buffer-substring-no-properties start end)
                        :language (dspex--language))))))
    (dspex--show (format "> explain (%s)\n%s" (dspex--language) (plist-get answer :text)))
    answer))

(defun dspex-predict (signature start end)
  "Run SIGNATURE (e.g. \"text -> sentiment\") on the region from START to END."
  (interactive "sdspex signature: \nr")
  (let* ((field (car (split-string (car (split-string signature "->")) "[,: ]+" t)))
         (inputs (list (intern (concat ":" field)) (buffer-substring-no-properties start end)))
         (result (jsonrpc-request (dspex--server) :dspex/predict
                                  `(:signature ,signature :inputs ,inputs))))
    (dspex--show (format "# %s\n%S" signature (plist-get result :outputs)))
    result))

(provide 'dspex)
;;; dspex.el ends here
