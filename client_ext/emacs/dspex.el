;;; dspex.el --- dspex through eglot  -*- lexical-binding: t; -*-

;; Start the dspex daemon with eglot and call its methods from Emacs (29+, eglot built in).
;;   (require 'dspex)
;;   M-x eglot            in a buffer of a mode listed in `dspex-modes'
;;   M-x dspex-chat       ask; the answer goes to the *dspex* buffer
;;   M-x dspex-predict    run a signature on the region

(require 'eglot)
(require 'jsonrpc)

(defgroup dspex nil "dspex LLM daemon." :group 'tools)

(defcustom dspex-server-command '("dspex-server")
  "Command that starts the dspex daemon on stdio."
  :type '(repeat string))

(defcustom dspex-modes '(text-mode markdown-mode org-mode prog-mode)
  "Major modes in which eglot may start dspex."
  :type '(repeat symbol))

(add-to-list 'eglot-server-programs (cons dspex-modes dspex-server-command))

(defun dspex--server ()
  (or (eglot-current-server) (user-error "dspex: start it with M-x eglot")))

(defun dspex--show (text)
  (with-current-buffer (get-buffer-create "*dspex*")
    (goto-char (point-max))
    (insert text "\n")
    (display-buffer (current-buffer))))

(defun dspex-chat (prompt)
  "Send PROMPT to the dspex daemon and show the answer."
  (interactive "sdspex chat: ")
  (let* ((result (jsonrpc-request (dspex--server) :dspex/chat
                                  `(:messages [(:role "user" :content ,prompt)])))
         (choice (aref (plist-get result :choices) 0)))
    (dspex--show (format "> %s\n%s" prompt
                         (plist-get (plist-get choice :message) :content)))))

(defun dspex-predict (signature start end)
  "Run SIGNATURE (e.g. \"text -> sentiment\") on the region from START to END."
  (interactive "sdspex signature: \nr")
  (let* ((field (car (split-string (car (split-string signature "->")) "[,: ]+" t)))
         (inputs (list (intern (concat ":" field)) (buffer-substring-no-properties start end)))
         (result (jsonrpc-request (dspex--server) :dspex/predict
                                  `(:signature ,signature :inputs ,inputs))))
    (dspex--show (format "# %s\n%S" signature (plist-get result :outputs)))))

(provide 'dspex)
;;; dspex.el ends here
